package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/callback"
)

// PromptName is the prompt file App uploads to every instance and plays.
const PromptName = "cluster-prompt.wav"

// maxBody bounds a callback's body.
const maxBody = 1 << 20

// App is the webhook application of the scale-out setup. It answers every
// call with an IVR that plays PromptName, and it does what an application
// behind several instances must do (docs/SCALING.md):
//
//   - it puts its prompt on every instance (UploadPrompt);
//   - it keeps, per session, the instance that owns it and the apiBaseUrl
//     its callbacks carry, and checks that every callback of the session
//     carries the same one, in the body and in the X-Mediaserver-Api-Base-Url
//     header;
//   - it sends its REST call for a session (an interruptivrcommand, which
//     the owner answers with a getIvrCommand "interrupted") to that
//     apiBaseUrl. With Misdirect it first sends the same call to another
//     instance, which must answer 421 naming the owner's URL.
//
// An App is an http.Handler that serves the callbacks under any prefix,
// safe for concurrent use.
type App struct {
	// Instances maps each instance ID to its API base URL, as the
	// instances are configured; callbacks must carry these.
	Instances map[string]string
	// Token is the bearer token of the instances' REST API ("" for none).
	Token string
	// Secret verifies the callbacks' HS256 signature; nil accepts them
	// unsigned.
	Secret []byte
	// Misdirect sends each session's REST call to a wrong instance first.
	Misdirect bool
	// Client sends the REST calls. Default: one with a 10 s timeout and a
	// transport of its own.
	Client *http.Client

	once     sync.Once
	rest     sync.WaitGroup // REST calls in flight
	mu       sync.Mutex     // guards what follows
	sessions map[string]*SessionReport
	order    []string // session IDs in order of arrival
	problems []string
}

// SessionReport is what App saw of one session.
type SessionReport struct {
	SessionID string `json:"sessionId"`
	// Instance is the instance ID that prefixes the session ID.
	Instance string `json:"instance"`
	// APIBaseURL is what the session's callbacks carried.
	APIBaseURL string `json:"apiBaseUrl"`
	// Callbacks are the names of its callbacks, in order.
	Callbacks []string `json:"callbacks"`
	// Misdirected says what the wrong instance answered (Misdirect).
	Misdirected string `json:"misdirected,omitempty"`
	// MisdirectedOK is true when that answer was 421 with APIBaseURL.
	MisdirectedOK bool `json:"misdirectedOk"`
	// REST is the status of the REST call sent to APIBaseURL.
	REST int `json:"rest"`
	// Interrupted is true once a getIvrCommand "interrupted" came: the
	// REST call took effect on the owner.
	Interrupted bool `json:"interrupted"`
	// Completed is true once sessionCompleted came.
	Completed bool `json:"completed"`
	// Started is when newCall came.
	Started time.Time `json:"started"`
}

// InstanceReport sums up one instance.
type InstanceReport struct {
	ID         string `json:"id"`
	APIBaseURL string `json:"apiBaseUrl"`
	// Calls is the number of its sessions (newCall callbacks).
	Calls int `json:"calls"`
	// Completed counts its sessionCompleted callbacks.
	Completed int `json:"completed"`
	// REST counts the REST calls it answered 200.
	REST int `json:"rest"`
	// Misdirected counts the 421 answers of other instances that named it.
	Misdirected int `json:"misdirected"`
}

// Report is what App saw: per instance, per session, and every problem.
type Report struct {
	Instances []InstanceReport `json:"instances"`
	Sessions  []SessionReport  `json:"sessions"`
	Problems  []string         `json:"problems"`
}

// Calls returns the number of calls instance id got.
func (r Report) Calls(id string) int {
	for _, in := range r.Instances {
		if in.ID == id {
			return in.Calls
		}
	}
	return 0
}

func (a *App) init() {
	a.once.Do(func() {
		a.sessions = make(map[string]*SessionReport)
		if a.Client == nil {
			a.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		}
	})
}

// ServeHTTP serves the callbacks: POST <prefix>/newCall, /getIvrCommand,
// /callEvent, /callNotify, /callAnswered, /sessionCompleted and
// /recordingReady.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.init()
	name := path.Base(r.URL.Path)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "POST a callback", http.StatusBadRequest)
		return
	}
	if a.Secret != nil {
		if _, err := callback.Verify(r, body, callback.VerifyOptions{Secret: a.Secret}); err != nil {
			a.problem("%s: %v", name, err)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	var m struct {
		mediaserver.Meta
		ReplyID      string `json:"replyId"`
		ConnectionID string `json:"connectionId"`
		Reason       string `json:"reason"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.SessionID == "" {
		a.problem("%s: body %.200s: %v", name, body, err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	s := a.track(name, m.Meta, r.Header.Get(callback.HeaderAPIBaseURL))
	var answer any = struct{}{}
	switch name {
	case "newCall":
		answer = mediaserver.Action{Action: mediaserver.ActionIvr}
	case "getIvrCommand":
		answer = a.ivrCommand(s, m.Reason, m.ReplyID, m.ConnectionID)
	case "callEvent":
		answer = mediaserver.Action{Action: mediaserver.ActionDrop}
	}
	b, _ := json.Marshal(answer)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// track records a callback and checks its apiBaseUrl.
func (a *App) track(name string, meta mediaserver.Meta, header string) SessionReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[meta.SessionID]
	if s == nil {
		inst, _, _ := strings.Cut(meta.SessionID, "-")
		s = &SessionReport{SessionID: meta.SessionID, Instance: inst, APIBaseURL: meta.APIBaseURL, Started: time.Now()}
		a.sessions[meta.SessionID] = s
		a.order = append(a.order, meta.SessionID)
		if want, ok := a.Instances[inst]; !ok || want != meta.APIBaseURL {
			a.problemLocked("session %s of instance %q: apiBaseUrl %q, want %q", meta.SessionID, inst, meta.APIBaseURL, want)
		}
	}
	if meta.APIBaseURL != s.APIBaseURL || header != s.APIBaseURL {
		a.problemLocked("session %s: %s carries apiBaseUrl %q and header %q, earlier callbacks %q", s.SessionID, name, meta.APIBaseURL, header, s.APIBaseURL)
	}
	s.Callbacks = append(s.Callbacks, name)
	switch name {
	case "sessionCompleted":
		s.Completed = true
	case "newCall":
		if len(s.Callbacks) != 1 {
			a.problemLocked("session %s: newCall after %v", s.SessionID, s.Callbacks)
		}
	}
	return *s
}

// ivrCommand answers getIvrCommand: the prompt at first, with the
// session's REST call sent once the answer is out; after that the prompt
// as background until the caller hangs up.
func (a *App) ivrCommand(s SessionReport, reason, replyID, connectionID string) mediaserver.IvrCommand {
	prompt := mediaserver.Phrase{Format: "file", FileName: PromptName}
	switch reason {
	case "connected":
		a.rest.Add(1)
		go a.control(s, mediaserver.InterruptIvrCommandRequest{ReplyID: replyID, ConnectionID: connectionID, SessionID: s.SessionID})
		return mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{prompt}}
	case "interrupted":
		a.mu.Lock()
		a.sessions[s.SessionID].Interrupted = true
		a.mu.Unlock()
	}
	return mediaserver.IvrCommand{BackgroundPrompt: &prompt, GetIVRCommandAfter: 3600}
}

// control sends the session's REST call: with Misdirect first to another
// instance (skipping those that no longer answer), then to the owner by
// the session's apiBaseUrl.
func (a *App) control(s SessionReport, req mediaserver.InterruptIvrCommandRequest) {
	defer a.rest.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Let the answer to getIvrCommand reach the server first.
	select {
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
	}
	body, _ := json.Marshal(req)
	if a.Misdirect {
		for _, other := range a.others(s.Instance) {
			status, resp, err := a.post(ctx, other+"/interruptivrcommand", body)
			if err != nil {
				continue // that instance is gone (drained)
			}
			var e struct {
				Error      string `json:"error"`
				APIBaseURL string `json:"apiBaseUrl"`
			}
			_ = json.Unmarshal(resp, &e)
			a.mu.Lock()
			rep := a.sessions[s.SessionID]
			rep.Misdirected = fmt.Sprintf("%s answered %d %s", other, status, bytes.TrimSpace(resp))
			rep.MisdirectedOK = status == http.StatusMisdirectedRequest && e.Error == "misdirected" && e.APIBaseURL == s.APIBaseURL
			a.mu.Unlock()
			break
		}
	}
	status, resp, err := a.post(ctx, s.APIBaseURL+"/interruptivrcommand", body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sessions[s.SessionID].REST = status
	if err != nil || status != http.StatusOK {
		a.problemLocked("session %s: interruptivrcommand at %s: %d %s %v", s.SessionID, s.APIBaseURL, status, bytes.TrimSpace(resp), err)
	}
}

// others lists the API base URLs of the instances other than id, starting
// after it, so that the wrong instances take turns.
func (a *App) others(id string) []string {
	ids := make([]string, 0, len(a.Instances))
	for k := range a.Instances {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	i := slices.Index(ids, id)
	var out []string
	for j := 1; j < len(ids); j++ {
		out = append(out, a.Instances[ids[(i+j+len(ids))%len(ids)]])
	}
	return out
}

func (a *App) post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, b, err
}

// UploadPrompt puts PromptName (a 20 s 600 Hz tone) on every instance with
// PUT /promptfile: each instance plays prompts from its own data directory,
// so an application puts its prompts on all of them (or on storage they
// share).
func (a *App) UploadPrompt(ctx context.Context) error {
	a.init()
	audio := wav(tone(600, 0.3, 20*time.Second))
	for id, base := range a.Instances {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/promptfile/"+PromptName, bytes.NewReader(audio))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "audio/wav")
		if a.Token != "" {
			req.Header.Set("Authorization", "Bearer "+a.Token)
		}
		resp, err := a.Client.Do(req)
		if err != nil {
			return fmt.Errorf("upload the prompt to %s: %w", id, err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("upload the prompt to %s: %d %s", id, resp.StatusCode, b)
		}
	}
	return nil
}

// Wait waits for the REST calls in flight, or ctx.
func (a *App) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		a.rest.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Report returns what the App saw so far. A session counts as a problem
// unless it completed, its REST call was answered 200 and took effect
// (getIvrCommand "interrupted"), and, with Misdirect, a wrong instance
// answered 421 with its owner's URL.
func (a *App) Report() Report {
	a.init()
	a.mu.Lock()
	defer a.mu.Unlock()
	rep := Report{Problems: slices.Clone(a.problems)}
	byID := make(map[string]*InstanceReport)
	ids := make([]string, 0, len(a.Instances))
	for id := range a.Instances {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rep.Instances = append(rep.Instances, InstanceReport{ID: id, APIBaseURL: a.Instances[id]})
	}
	for i := range rep.Instances {
		byID[rep.Instances[i].ID] = &rep.Instances[i]
	}
	for _, sid := range a.order {
		s := *a.sessions[sid]
		s.Callbacks = slices.Clone(s.Callbacks)
		rep.Sessions = append(rep.Sessions, s)
		in := byID[s.Instance]
		if in == nil {
			continue // reported by track
		}
		if slices.Contains(s.Callbacks, "newCall") {
			in.Calls++
		}
		if s.Completed {
			in.Completed++
		}
		if s.REST == http.StatusOK {
			in.REST++
		}
		if s.MisdirectedOK {
			in.Misdirected++
		}
		switch {
		case !s.Completed:
			rep.Problems = append(rep.Problems, fmt.Sprintf("session %s: no sessionCompleted (callbacks %v)", sid, s.Callbacks))
		case s.REST != http.StatusOK || !s.Interrupted:
			rep.Problems = append(rep.Problems, fmt.Sprintf("session %s: REST call %d, interrupted %t", sid, s.REST, s.Interrupted))
		case a.Misdirect && !s.MisdirectedOK:
			rep.Problems = append(rep.Problems, fmt.Sprintf("session %s: misdirected call: %s", sid, s.Misdirected))
		}
	}
	return rep
}

func (a *App) problem(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.problemLocked(format, args...)
}

func (a *App) problemLocked(format string, args ...any) {
	if len(a.problems) < 100 {
		a.problems = append(a.problems, fmt.Sprintf(format, args...))
	}
}
