package mediaserver

import "context"

// Handler is the application: the server asks, the Handler decides. It is
// the protocol's decision callbacks in-process, one method per callback.
//
// Calls for one session never overlap and arrive in protocol order: each
// runs on a goroutine owned by that session while the session's event loop
// waits for it. Sessions run in parallel, so different sessions call the
// Handler concurrently.
//
// ctx is cancelled when the answer is no longer wanted: after
// Config.DecisionTimeout (default 5 s), when the session ends or when the
// server closes. An answer that comes later is discarded.
//
// A returned error, a timeout or a panic gets the fallback of API.md §6:
// NewCall rejects the call (SIP 480), CallEvent drops the participant,
// GetIvrCommand hangs the IVR up. A panic is recovered, logged with its
// stack, and the server keeps serving.
//
// Server methods (SplitConnection, Connect, HangupParticipant, ...) may be
// called from inside a Handler method: they validate at once, queue their
// work on the session and return; the callbacks they cause follow after
// the current one returns.
type Handler interface {
	// NewCall decides what to do with a new inbound call: drop, call or ivr.
	NewCall(ctx context.Context, req *NewCallRequest) (Action, error)
	// CallEvent decides what to do with a participant that lost or changed
	// its connection.
	CallEvent(ctx context.Context, req *CallEventRequest) (Action, error)
	// GetIvrCommand returns the next command for an IVR participant.
	GetIvrCommand(ctx context.Context, req *IvrCommandRequest) (IvrCommand, error)
}

// CallNotifier is an optional interface of a Handler that wants the
// informational callNotify callbacks (ringing, early media, monitor state).
type CallNotifier interface {
	CallNotify(ctx context.Context, req *CallNotifyRequest) error
}

// CallAnsweredHandler is an optional interface of a Handler that wants
// callAnswered callbacks.
type CallAnsweredHandler interface {
	CallAnswered(ctx context.Context, req *CallAnsweredRequest) error
}

// SessionCompletedHandler is an optional interface of a Handler that wants
// sessionCompleted callbacks.
type SessionCompletedHandler interface {
	SessionCompleted(ctx context.Context, req *SessionCompletedRequest) error
}

// RecordingReadyHandler is an optional interface of a Handler that wants
// recordingReady callbacks.
type RecordingReadyHandler interface {
	RecordingReady(ctx context.Context, req *RecordingReadyRequest) error
}

// HandlerFuncs adapts functions to a Handler and all its optional
// interfaces. A nil decision function gets the protocol's fallback; a nil
// informational function ignores the callback.
type HandlerFuncs struct {
	NewCallFunc          func(ctx context.Context, req *NewCallRequest) (Action, error)
	CallEventFunc        func(ctx context.Context, req *CallEventRequest) (Action, error)
	GetIvrCommandFunc    func(ctx context.Context, req *IvrCommandRequest) (IvrCommand, error)
	CallNotifyFunc       func(ctx context.Context, req *CallNotifyRequest) error
	CallAnsweredFunc     func(ctx context.Context, req *CallAnsweredRequest) error
	SessionCompletedFunc func(ctx context.Context, req *SessionCompletedRequest) error
	RecordingReadyFunc   func(ctx context.Context, req *RecordingReadyRequest) error
}

// NewCall calls NewCallFunc, or rejects the call.
func (h HandlerFuncs) NewCall(ctx context.Context, req *NewCallRequest) (Action, error) {
	if h.NewCallFunc == nil {
		return Action{Action: ActionDrop}, nil
	}
	return h.NewCallFunc(ctx, req)
}

// CallEvent calls CallEventFunc, or drops the participant.
func (h HandlerFuncs) CallEvent(ctx context.Context, req *CallEventRequest) (Action, error) {
	if h.CallEventFunc == nil {
		return Action{Action: ActionDrop}, nil
	}
	return h.CallEventFunc(ctx, req)
}

// GetIvrCommand calls GetIvrCommandFunc, or hangs the IVR up.
func (h HandlerFuncs) GetIvrCommand(ctx context.Context, req *IvrCommandRequest) (IvrCommand, error) {
	if h.GetIvrCommandFunc == nil {
		return IvrCommand{Hangup: true}, nil
	}
	return h.GetIvrCommandFunc(ctx, req)
}

// CallNotify calls CallNotifyFunc if set.
func (h HandlerFuncs) CallNotify(ctx context.Context, req *CallNotifyRequest) error {
	if h.CallNotifyFunc == nil {
		return nil
	}
	return h.CallNotifyFunc(ctx, req)
}

// CallAnswered calls CallAnsweredFunc if set.
func (h HandlerFuncs) CallAnswered(ctx context.Context, req *CallAnsweredRequest) error {
	if h.CallAnsweredFunc == nil {
		return nil
	}
	return h.CallAnsweredFunc(ctx, req)
}

// SessionCompleted calls SessionCompletedFunc if set.
func (h HandlerFuncs) SessionCompleted(ctx context.Context, req *SessionCompletedRequest) error {
	if h.SessionCompletedFunc == nil {
		return nil
	}
	return h.SessionCompletedFunc(ctx, req)
}

// RecordingReady calls RecordingReadyFunc if set.
func (h HandlerFuncs) RecordingReady(ctx context.Context, req *RecordingReadyRequest) error {
	if h.RecordingReadyFunc == nil {
		return nil
	}
	return h.RecordingReadyFunc(ctx, req)
}

// Fallback answers of API.md §6 for failed decision callbacks.
var (
	fallbackNewCall   = Action{Action: ActionDrop, DropReason: 480}
	fallbackCallEvent = Action{Action: ActionDrop}
)
