package flows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mediaserver-go/mediaserver"
)

// Callback is one callback the application received.
type Callback struct {
	// Name is the callback's name, with the event for callEvent and
	// callNotify: "newCall", "callEvent:calledPartyDrop",
	// "callNotify:ringing".
	Name string
	// Req is the request: *mediaserver.NewCallRequest,
	// *mediaserver.CallEventRequest, and so on.
	Req any
}

// Recorder is a flow's application: a mediaserver.Handler with every
// optional interface that records each callback, in order, and answers with
// the script set by SetScript (HandlerFuncs' fallbacks for unset functions).
// It is safe for concurrent use; the script is called without the lock held.
type Recorder struct {
	mu     sync.Mutex // guards script, calls
	script mediaserver.HandlerFuncs
	calls  []Callback
	notify chan struct{}
}

// NewRecorder returns a Recorder with an empty script: it rejects calls.
func NewRecorder() *Recorder {
	return &Recorder{notify: make(chan struct{}, 1)}
}

// SetScript replaces the application's answers.
func (r *Recorder) SetScript(h mediaserver.HandlerFuncs) {
	r.mu.Lock()
	r.script = h
	r.mu.Unlock()
}

func (r *Recorder) add(name string, req any) mediaserver.HandlerFuncs {
	r.mu.Lock()
	r.calls = append(r.calls, Callback{Name: name, Req: req})
	h := r.script
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return h
}

// Callbacks returns the callbacks received so far.
func (r *Recorder) Callbacks() []Callback {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Names returns the names of the callbacks received so far.
func (r *Recorder) Names() []string {
	var out []string
	for _, c := range r.Callbacks() {
		out = append(out, c.Name)
	}
	return out
}

// Wait returns the n-th (0-based) callback called name, waiting for it
// until ctx is done. name is a full name ("callEvent:calledPartyDrop") or
// the callback's name alone ("callEvent").
func (r *Recorder) Wait(ctx context.Context, name string, n int) (Callback, error) {
	for {
		seen := 0
		for _, c := range r.Callbacks() {
			if c.Name == name || strings.HasPrefix(c.Name, name+":") {
				if seen == n {
					return c, nil
				}
				seen++
			}
		}
		select {
		case <-r.notify:
		case <-ctx.Done():
			return Callback{}, fmt.Errorf("flows: no %s #%d: %w; callbacks %v", name, n+1, ctx.Err(), r.Names())
		}
	}
}

// Answered waits for the n-th (0-based) callAnswered.
func (r *Recorder) Answered(ctx context.Context, n int) (*mediaserver.CallAnsweredRequest, error) {
	c, err := r.Wait(ctx, "callAnswered", n)
	if err != nil {
		return nil, err
	}
	return c.Req.(*mediaserver.CallAnsweredRequest), nil
}

// Event waits for the n-th (0-based) callEvent called name.
func (r *Recorder) Event(ctx context.Context, name string, n int) (*mediaserver.CallEventRequest, error) {
	c, err := r.Wait(ctx, name, n)
	if err != nil {
		return nil, err
	}
	req, ok := c.Req.(*mediaserver.CallEventRequest)
	if !ok {
		return nil, fmt.Errorf("flows: %s is not a callEvent", c.Name)
	}
	return req, nil
}

// NewCall records the callback and answers with the script.
func (r *Recorder) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	return r.add("newCall", req).NewCall(ctx, req)
}

// CallEvent records the callback and answers with the script.
func (r *Recorder) CallEvent(ctx context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	return r.add("callEvent:"+req.Event, req).CallEvent(ctx, req)
}

// GetIvrCommand records the callback and answers with the script.
func (r *Recorder) GetIvrCommand(ctx context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	return r.add("getIvrCommand", req).GetIvrCommand(ctx, req)
}

// CallNotify records the callback and passes it to the script.
func (r *Recorder) CallNotify(ctx context.Context, req *mediaserver.CallNotifyRequest) error {
	return r.add("callNotify:"+req.Event, req).CallNotify(ctx, req)
}

// CallAnswered records the callback and passes it to the script.
func (r *Recorder) CallAnswered(ctx context.Context, req *mediaserver.CallAnsweredRequest) error {
	return r.add("callAnswered", req).CallAnswered(ctx, req)
}

// SessionCompleted records the callback and passes it to the script.
func (r *Recorder) SessionCompleted(ctx context.Context, req *mediaserver.SessionCompletedRequest) error {
	return r.add("sessionCompleted", req).SessionCompleted(ctx, req)
}

// RecordingReady records the callback and passes it to the script.
func (r *Recorder) RecordingReady(ctx context.Context, req *mediaserver.RecordingReadyRequest) error {
	return r.add("recordingReady", req).RecordingReady(ctx, req)
}

// The Recorder implements the Handler and all its optional interfaces.
var (
	_ mediaserver.Handler                 = (*Recorder)(nil)
	_ mediaserver.CallNotifier            = (*Recorder)(nil)
	_ mediaserver.CallAnsweredHandler     = (*Recorder)(nil)
	_ mediaserver.SessionCompletedHandler = (*Recorder)(nil)
	_ mediaserver.RecordingReadyHandler   = (*Recorder)(nil)
)
