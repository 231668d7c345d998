package callback

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

// Callback paths, appended to Config.BaseURL (API.md §2.1).
const (
	PathNewCall          = "/newCall"
	PathCallNotify       = "/callNotify"
	PathCallEvent        = "/callEvent"
	PathCallAnswered     = "/callAnswered"
	PathGetIvrCommand    = "/getIvrCommand"
	PathSessionCompleted = "/sessionCompleted"
	PathRecordingReady   = "/recordingReady"
)

// HeaderAPIBaseURL carries the REST base URL of the instance that owns the
// session on every callback.
const HeaderAPIBaseURL = "X-Mediaserver-Api-Base-Url"

// Handler is a mediaserver.Handler, with all the optional interfaces, that
// forwards every callback as a signed JSON POST to the application's
// webhook base URL and turns the JSON answer back into Go values
// (translation only: the server decides what a failure means).
//
// Decision callbacks (newCall, callEvent, getIvrCommand) get one attempt
// (plus the fallback URL) within Config.DecisionTimeout; a timeout, a
// non-2xx status, a body that is not a valid answer or an unknown action is
// returned as an error, and the server applies the fallback of API.md §6.
// callNotify and callAnswered get one attempt of Config.NotifyTimeout.
// sessionCompleted and recordingReady are queued and return at once; the
// Handler's own workers deliver them in order per session, retrying
// Config.Retries times with backoff (decision 16).
//
// A Handler is safe for concurrent use. Its workers run until Shutdown or
// Close; call one of them after the server has shut down, so that the last
// sessionCompleted callbacks are delivered.
type Handler struct {
	cfg    Config
	client *http.Client
	own    *http.Transport // the default transport, closed by Close; nil with Config.HTTPClient
	log    *slog.Logger

	mu     sync.Mutex // guards closed and sends on queues
	closed bool
	queues []chan job

	hard     context.Context // cancelled by Close, or by Shutdown when its ctx ends
	stopHard context.CancelFunc
	wg       sync.WaitGroup

	stats counters
}

var (
	_ mediaserver.Handler                 = (*Handler)(nil)
	_ mediaserver.CallNotifier            = (*Handler)(nil)
	_ mediaserver.CallAnsweredHandler     = (*Handler)(nil)
	_ mediaserver.SessionCompletedHandler = (*Handler)(nil)
	_ mediaserver.RecordingReadyHandler   = (*Handler)(nil)
)

// NewHandler checks cfg and starts the delivery workers. The caller must
// call Shutdown or Close when done.
func NewHandler(cfg Config) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, client: cfg.HTTPClient, log: cfg.Logger}
	if h.client == nil {
		h.own = newTransport()
		h.client = &http.Client{
			Transport: h.own,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	h.hard, h.stopHard = context.WithCancel(context.Background())
	per := max(1, cfg.QueueSize/cfg.Workers)
	h.queues = make([]chan job, cfg.Workers)
	for i := range h.queues {
		h.queues[i] = make(chan job, per)
		h.wg.Add(1)
		go h.worker(h.queues[i])
	}
	return h, nil
}

// NewCall posts /newCall and returns the application's action: drop, call,
// ivr or joinconferenceconnection.
func (h *Handler) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	var act mediaserver.Action
	if err := h.decide(ctx, PathNewCall, req.APIBaseURL, req, &act); err != nil {
		return mediaserver.Action{}, err
	}
	if err := checkAction(PathNewCall, act.Action, act.DestAddr, act.ParticipantID, act.ConnectionID, newCallActions); err != nil {
		return mediaserver.Action{}, err
	}
	return act, nil
}

// CallEvent posts /callEvent and returns the application's action: drop,
// call, ivr, connect or joinconferenceconnection.
func (h *Handler) CallEvent(ctx context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	var act mediaserver.Action
	if err := h.decide(ctx, PathCallEvent, req.APIBaseURL, req, &act); err != nil {
		return mediaserver.Action{}, err
	}
	if err := checkAction(PathCallEvent, act.Action, act.DestAddr, act.ParticipantID, act.ConnectionID, callEventActions); err != nil {
		return mediaserver.Action{}, err
	}
	return act, nil
}

// GetIvrCommand posts /getIvrCommand and returns the application's IVR
// command. An empty object {} is a valid answer (the IVR idles).
func (h *Handler) GetIvrCommand(ctx context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	var cmd mediaserver.IvrCommand
	if err := h.decide(ctx, PathGetIvrCommand, req.APIBaseURL, req, &cmd); err != nil {
		return mediaserver.IvrCommand{}, err
	}
	if cmd.Action != "" {
		if err := checkAction(PathGetIvrCommand, cmd.Action, cmd.DestAddr, cmd.ParticipantID, cmd.ConnectionID, ivrActions); err != nil {
			return mediaserver.IvrCommand{}, err
		}
	}
	return cmd, nil
}

// CallNotify posts /callNotify once, within Config.NotifyTimeout; the
// answer's body is ignored.
func (h *Handler) CallNotify(ctx context.Context, req *mediaserver.CallNotifyRequest) error {
	return h.inform(ctx, PathCallNotify, req.APIBaseURL, req)
}

// CallAnswered posts /callAnswered once, within Config.NotifyTimeout; the
// answer's body is ignored.
func (h *Handler) CallAnswered(ctx context.Context, req *mediaserver.CallAnsweredRequest) error {
	return h.inform(ctx, PathCallAnswered, req.APIBaseURL, req)
}

// SessionCompleted queues /sessionCompleted and returns at once. It fails
// with ErrClosed after Shutdown or Close and with ErrQueueFull when the
// queue is full; delivery failures are logged.
func (h *Handler) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	return h.enqueue(PathSessionCompleted, req.SessionID, req.APIBaseURL, req)
}

// RecordingReady queues /recordingReady behind its session's
// sessionCompleted and returns at once, like SessionCompleted.
func (h *Handler) RecordingReady(_ context.Context, req *mediaserver.RecordingReadyRequest) error {
	key := req.SessionID
	if key == "" {
		key = req.ConnectionID // a conference's recording belongs to no session
	}
	return h.enqueue(PathRecordingReady, key, req.APIBaseURL, req)
}

// Actions valid in each decision callback (API.md §6, decision 2).
var (
	newCallActions   = []string{mediaserver.ActionDrop, mediaserver.ActionCall, mediaserver.ActionIvr, mediaserver.ActionJoinConferenceConnection}
	callEventActions = []string{mediaserver.ActionDrop, mediaserver.ActionCall, mediaserver.ActionIvr, mediaserver.ActionConnect, mediaserver.ActionJoinConferenceConnection}
	ivrActions       = []string{mediaserver.ActionDrop, mediaserver.ActionCall, mediaserver.ActionConnect, mediaserver.ActionJoinConferenceConnection}
)

// checkAction checks that an answer names a valid action with the field
// it needs.
func checkAction(path, action, destAddr, participantID, connectionID string, valid []string) error {
	switch {
	case action == "":
		return fmt.Errorf("%w to %s: no action", ErrBadAnswer, path)
	case !slices.Contains(valid, action):
		return fmt.Errorf("%w to %s: unknown action %q", ErrBadAnswer, path, action)
	case action == mediaserver.ActionCall && destAddr == "":
		return fmt.Errorf("%w to %s: action call without destAddr", ErrBadAnswer, path)
	case action == mediaserver.ActionConnect && participantID == "":
		return fmt.Errorf("%w to %s: action connect without participantId", ErrBadAnswer, path)
	case action == mediaserver.ActionJoinConferenceConnection && connectionID == "":
		return fmt.Errorf("%w to %s: action joinconferenceconnection without connectionId", ErrBadAnswer, path)
	}
	return nil
}

// decide posts a decision callback and decodes the answer into out.
func (h *Handler) decide(ctx context.Context, path, apiBase string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("callback: encode %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.DecisionTimeout)
	defer cancel()
	res := h.try(ctx, path, body, apiBase, 1, true)
	if res.err != nil {
		h.stats.failed.Add(1)
		return res.err
	}
	h.stats.delivered.Add(1)
	if len(res.answer) == 0 {
		return answerError(res.url, "empty body")
	}
	if err := json.Unmarshal(res.answer, out); err != nil {
		return answerError(res.url, "%v", err)
	}
	return nil
}

// inform posts an informational callback once, ignoring the answer.
func (h *Handler) inform(ctx context.Context, path, apiBase string, req any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("callback: encode %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.NotifyTimeout)
	defer cancel()
	if res := h.try(ctx, path, body, apiBase, 1, false); res.err != nil {
		h.stats.failed.Add(1)
		return res.err
	}
	h.stats.delivered.Add(1)
	return nil
}

// job is a queued callback.
type job struct {
	path      string
	sessionID string
	apiBase   string
	body      []byte
	queued    time.Time
}

// enqueue puts a callback on the worker that owns its session.
func (h *Handler) enqueue(path, key, apiBase string, req any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("callback: encode %s: %w", path, err)
	}
	f := fnv.New32a()
	_, _ = f.Write([]byte(key))
	j := job{path: path, sessionID: key, apiBase: apiBase, body: body, queued: time.Now()}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fmt.Errorf("%s: %w", path, ErrClosed)
	}
	select {
	case h.queues[f.Sum32()%uint32(len(h.queues))] <- j:
		h.stats.queued.Add(1)
		return nil
	default:
		h.stats.dropped.Add(1)
		return fmt.Errorf("%s: %w", path, ErrQueueFull)
	}
}

// Stats are counters of a Handler's deliveries, for metrics.
type Stats struct {
	// Delivered counts callbacks the application answered with 2xx.
	Delivered uint64
	// Failed counts decision and informational callbacks that failed, and
	// queued callbacks that failed their last attempt.
	Failed uint64
	// Retried counts retries of queued callbacks.
	Retried uint64
	// Dropped counts queued callbacks never attempted: the queue was full,
	// or Close or an expired Shutdown ended delivery.
	Dropped uint64
	// Queued is the number of callbacks waiting in the queue now.
	Queued int64
}

type counters struct {
	delivered, failed, retried, dropped atomic.Uint64
	queued                              atomic.Int64
}

// Stats returns the delivery counters. It is safe for concurrent use.
func (h *Handler) Stats() Stats {
	return Stats{
		Delivered: h.stats.delivered.Load(),
		Failed:    h.stats.failed.Load(),
		Retried:   h.stats.retried.Load(),
		Dropped:   h.stats.dropped.Load(),
		Queued:    h.stats.queued.Load(),
	}
}
