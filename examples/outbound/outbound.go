package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mediaserver-go/mediaserver"
)

// Outbound is the /placeivrcall flow of the examples document as a
// Handler: Place calls a device (an alarm unit, say); when it answers, its
// IVR's first getIvrCommand is answered {action:"call", destAddr: ARC},
// which connects the device with the alarm receiving centre. When either
// hangs up, the other is dropped.
//
// Its methods are safe for concurrent use.
type Outbound struct {
	// ARC is the SIP address the device is connected to.
	ARC string
	// CallerID is the calling identity presented to the device; "" leaves
	// the server's default.
	CallerID string
	// Server is the server the handler runs in; Place uses it. Set it
	// before Place.
	Server *mediaserver.Server
	// Log is called for every callback; nil logs nothing.
	Log func(format string, args ...any)

	mu    sync.Mutex
	calls map[string]*placed // by sessionId
}

// placed is the state of one placed call.
type placed struct {
	done           chan struct{} // closed by sessionCompleted
	deviceAnswered bool
	arcAnswered    bool
	failure        string // the calledPartyFailed that ended it, if any
	inbound        bool   // an inbound call, rejected: nobody waits for it
}

func (o *Outbound) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// call returns the state of a session, creating it: callbacks may come
// before Place has returned.
func (o *Outbound) call(sessionID string) *placed {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.calls == nil {
		o.calls = make(map[string]*placed)
	}
	st := o.calls[sessionID]
	if st == nil {
		st = &placed{done: make(chan struct{})}
		o.calls[sessionID] = st
	}
	return st
}

// Place calls device (/placeivrcall) and returns the new session's ID.
func (o *Outbound) Place(ctx context.Context, device string) (string, error) {
	res, err := o.Server.PlaceIvrCall(ctx, mediaserver.PlaceIvrCallRequest{DestAddr: device, CallerID: o.CallerID})
	if err != nil {
		return "", fmt.Errorf("placeivrcall %s: %w", device, err)
	}
	o.call(res.SessionID)
	o.logf("placeivrcall     %s → session %s", device, res.SessionID)
	return res.SessionID, nil
}

// ErrNotConnected means a placed call ended without the device and the ARC
// being connected.
var ErrNotConnected = errors.New("outbound: device and ARC were not connected")

// Wait blocks until the session of a placed call completed, or ctx is
// done. It returns nil if the device and the ARC were connected, else an
// error wrapping ErrNotConnected that says who failed.
func (o *Outbound) Wait(ctx context.Context, sessionID string) error {
	st := o.call(sessionID)
	select {
	case <-st.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.calls, sessionID)
	switch {
	case st.arcAnswered:
		return nil
	case !st.deviceAnswered:
		return fmt.Errorf("%w: the device failed (%s)", ErrNotConnected, st.failure)
	}
	return fmt.Errorf("%w: the ARC failed (%s)", ErrNotConnected, st.failure)
}

// NewCall rejects inbound calls: this application only calls out.
func (o *Outbound) NewCall(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	st := o.call(req.SessionID)
	o.mu.Lock()
	st.inbound = true
	o.mu.Unlock()
	o.logf("newCall          from %s → drop (outbound only)", req.User)
	return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
}

// CallNotify logs progress: ringing at the device, then at the ARC.
func (o *Outbound) CallNotify(_ context.Context, req *mediaserver.CallNotifyRequest) error {
	o.logf("callNotify       %s user=%s", req.Event, req.User)
	return nil
}

// CallAnswered records who answered: the device (connected to its IVR),
// then the ARC.
func (o *Outbound) CallAnswered(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
	st := o.call(req.SessionID)
	o.mu.Lock()
	if req.IVR {
		st.deviceAnswered = true
	} else {
		st.arcAnswered = true
	}
	o.mu.Unlock()
	callee := req.CalleeUser
	if req.IVR {
		callee = "IVR"
	}
	o.logf("callAnswered     %s with %s (connection %s)", req.CallerUser, callee, req.ConnectionID)
	return nil
}

// GetIvrCommand replaces the device's IVR by a call to the ARC.
func (o *Outbound) GetIvrCommand(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	o.logf("getIvrCommand    reason=%s → action call %s", req.Reason, o.ARC)
	return mediaserver.IvrCommand{Action: mediaserver.ActionCall, DestAddr: o.ARC}, nil
}

// CallEvent drops whoever is left: the ARC when the device hangs up, the
// device when the ARC hangs up or does not answer.
func (o *Outbound) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	if req.Event == mediaserver.EventCalledPartyFailed {
		st := o.call(req.SessionID)
		o.mu.Lock()
		st.failure = fmt.Sprintf("%s, SIP %d", req.Reason, req.SipStatusCode)
		o.mu.Unlock()
	}
	o.logf("callEvent        %s user=%s reason=%s → drop", req.Event, req.User, req.Reason)
	return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
}

// SessionCompleted ends Wait for the session.
func (o *Outbound) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	o.logf("sessionCompleted after %s s", req.SessionDuration)
	st := o.call(req.SessionID)
	close(st.done)
	o.mu.Lock()
	if st.inbound {
		delete(o.calls, req.SessionID)
	}
	o.mu.Unlock()
	return nil
}
