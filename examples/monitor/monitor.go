package main

import (
	"context"

	"github.com/mediaserver-go/mediaserver"
)

// Monitor is the call monitoring of the examples document as a Handler:
// every inbound call is connected to To, and its newCall answer carries
// monitorDestAddr. After the first callAnswered the server calls
// MonitorAddr and sends it the mix of everyone in the call; the monitor
// only listens (it is offered a=sendonly, and nothing it sends is mixed
// in). callNotify monitorConnected and monitorDropped report the monitor's
// leg; its failure never affects the call.
//
// Its methods are safe for concurrent use.
type Monitor struct {
	// To is the SIP address every call is connected to; MonitorAddr is
	// the listener's.
	To, MonitorAddr string
	// Log is called for every callback; nil logs nothing.
	Log func(format string, args ...any)
}

func (m *Monitor) logf(format string, args ...any) {
	if m.Log != nil {
		m.Log(format, args...)
	}
}

// NewCall connects the caller to To and asks for the monitor.
func (m *Monitor) NewCall(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	m.logf("newCall          from %s → call %s, monitorDestAddr %s", req.User, m.To, m.MonitorAddr)
	return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: m.To, MonitorDestAddr: m.MonitorAddr}, nil
}

// CallEvent drops whoever is left when the other party hangs up.
func (m *Monitor) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	m.logf("callEvent        %s user=%s → drop", req.Event, req.User)
	return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
}

// GetIvrCommand is not used in this flow: an IVR would be hung up.
func (m *Monitor) GetIvrCommand(context.Context, *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	return mediaserver.IvrCommand{Hangup: true}, nil
}

// CallNotify logs progress, including the monitor's leg.
func (m *Monitor) CallNotify(_ context.Context, req *mediaserver.CallNotifyRequest) error {
	m.logf("callNotify       %s user=%s status=%d", req.Event, req.User, req.SipStatusCode)
	return nil
}

// CallAnswered logs the connection; the monitor is called after the first.
func (m *Monitor) CallAnswered(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
	m.logf("callAnswered     %s with %s (connection %s)", req.CallerUser, req.CalleeUser, req.ConnectionID)
	return nil
}

// SessionCompleted logs the end of the call.
func (m *Monitor) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	m.logf("sessionCompleted after %s s", req.SessionDuration)
	return nil
}
