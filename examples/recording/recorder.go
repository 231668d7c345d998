package main

import (
	"context"

	"github.com/mediaserver-go/mediaserver"
)

// Recorder is the call recording of the examples document as a Handler:
// every inbound call is connected to To and recorded (callRecording and
// filename in the newCall answer). After the call, sessionCompleted comes,
// then recordingReady names the file in prompt storage (what GET
// /promptfile/{filename} serves; Server.OpenPrompt in Go).
//
// Its methods are safe for concurrent use.
type Recorder struct {
	// To is the SIP address every call is connected to.
	To string
	// Prefix starts each recording's file name: Prefix-<sessionId>.wav.
	// Default "call".
	Prefix string
	// Channels is 1 (a mono mix of both parties, the default) or 2 (the
	// caller left, the callee right).
	Channels int
	// Log is called for every callback; nil logs nothing.
	Log func(format string, args ...any)
	// OnReady, if set, is called with each finished recording, after the
	// session completed. It runs on the session's callback goroutine.
	OnReady func(req *mediaserver.RecordingReadyRequest)
}

func (r *Recorder) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

// NewCall connects the caller to To and starts recording.
func (r *Recorder) NewCall(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	prefix := r.Prefix
	if prefix == "" {
		prefix = "call"
	}
	name := prefix + "-" + req.SessionID
	r.logf("newCall          from %s → call %s, callRecording:true filename:%s", req.User, r.To, name)
	return mediaserver.Action{
		Action:            mediaserver.ActionCall,
		DestAddr:          r.To,
		CallRecording:     true,
		Filename:          name,
		RecordingChannels: r.Channels,
	}, nil
}

// CallEvent drops whoever is left when the other party hangs up.
func (r *Recorder) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	r.logf("callEvent        %s user=%s → drop", req.Event, req.User)
	return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
}

// GetIvrCommand is not used in this flow: an IVR would be hung up.
func (r *Recorder) GetIvrCommand(context.Context, *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	return mediaserver.IvrCommand{Hangup: true}, nil
}

// CallNotify logs progress.
func (r *Recorder) CallNotify(_ context.Context, req *mediaserver.CallNotifyRequest) error {
	r.logf("callNotify       %s user=%s", req.Event, req.User)
	return nil
}

// CallAnswered logs the connection.
func (r *Recorder) CallAnswered(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
	r.logf("callAnswered     %s with %s", req.CallerUser, req.CalleeUser)
	return nil
}

// SessionCompleted logs the end of the call; recordingReady follows.
func (r *Recorder) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	r.logf("sessionCompleted after %s s", req.SessionDuration)
	return nil
}

// RecordingReady reports a finished recording.
func (r *Recorder) RecordingReady(_ context.Context, req *mediaserver.RecordingReadyRequest) error {
	r.logf("recordingReady   %s: %s, %.2f s, %d bytes", req.Filename, req.Format, req.Duration, req.Size)
	if r.OnReady != nil {
		r.OnReady(req)
	}
	return nil
}
