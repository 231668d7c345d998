package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/callback"
)

// maxBody bounds a callback's body.
const maxBody = 1 << 20

// App is the auto-attendant of the examples document as a webhook
// application: the server POSTs its callbacks here as JSON and acts on the
// JSON answers. It greets the caller with text-to-speech, collects one
// digit, and routes 1 to Sales and 2 to Support; anything else is asked
// again, and the third wrong digit ends the call.
//
// It is the same logic as examples/autoattendant's in-process Handler,
// over HTTP: decoding into the mediaserver types is all it shares with
// the library. An App is an http.Handler, safe for concurrent use.
type App struct {
	// Sales and Support are the SIP addresses of digits 1 and 2.
	Sales, Support string
	// Verify, when set, checks every callback's signature with
	// callback.Verify; a callback that fails gets 401 and no answer.
	Verify *callback.VerifyOptions
	// Log, when set, is called for every callback: its name and a summary.
	Log func(name, summary string)

	once  sync.Once
	mux   *http.ServeMux
	mu    sync.Mutex        // guards calls
	calls map[string]*state // by sessionId
}

// state is one caller's progress through the menu.
type state struct {
	tries int
	dest  string
}

// Prompts of the menu, spoken by the server's awstts engine (Amazon Polly,
// or espeak-ng when no AWS credentials are configured).
var prompts = map[string]string{
	"greeting":   "Welcome. Press 1 for sales and 2 for support.",
	"to-sales":   "Thank you. You will be connected to sales.",
	"to-support": "Thank you. You will be connected to support.",
	"retry":      "Sorry, I did not get that.",
	"goodbye":    "Goodbye.",
}

func say(names ...string) []mediaserver.Phrase {
	var out []mediaserver.Phrase
	for _, n := range names {
		out = append(out, mediaserver.Phrase{Format: "awstts", AwsTTSParameters: &mediaserver.AwsTTSParameters{
			Text: prompts[n], VoiceID: "Joanna", LanguageCode: "en-US",
		}})
	}
	return out
}

// ServeHTTP routes the callbacks: POST /newCall, /getIvrCommand,
// /callEvent, /callNotify, /callAnswered, /sessionCompleted and
// /recordingReady, under any path prefix (the server's -callback-url may
// end in a path such as /ms): only the last segment counts.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if i := strings.LastIndexByte(r.URL.Path, '/'); i > 0 {
		r = r.Clone(r.Context())
		r.URL.Path, r.URL.RawPath = r.URL.Path[i:], ""
	}
	a.once.Do(func() {
		a.calls = make(map[string]*state)
		a.mux = http.NewServeMux()
		a.mux.HandleFunc("POST /newCall", decision(a, a.newCall))
		a.mux.HandleFunc("POST /getIvrCommand", decision(a, a.getIvrCommand))
		a.mux.HandleFunc("POST /callEvent", decision(a, a.callEvent))
		a.mux.HandleFunc("POST /callNotify", notice(a, a.callNotify))
		a.mux.HandleFunc("POST /callAnswered", notice(a, a.callAnswered))
		a.mux.HandleFunc("POST /sessionCompleted", notice(a, a.sessionCompleted))
		a.mux.HandleFunc("POST /recordingReady", notice(a, a.recordingReady))
	})
	a.mux.ServeHTTP(w, r)
}

func (a *App) log(name, format string, args ...any) {
	if a.Log != nil {
		a.Log(name, fmt.Sprintf(format, args...))
	}
}

// read returns the callback's body once its signature is checked.
func (a *App) read(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, `{"error":"body too large"}`, http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if a.Verify != nil {
		if _, err := callback.Verify(r, body, *a.Verify); err != nil {
			a.log(r.URL.Path[1:], "refused: %v", err)
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return nil, false
		}
	}
	return body, true
}

// decision serves a callback whose answer tells the server what to do.
func decision[Req, Ans any](a *App, f func(*Req) Ans) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := a.read(w, r)
		if !ok {
			return
		}
		req := new(Req)
		if err := json.Unmarshal(body, req); err != nil {
			http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
			return
		}
		writeJSON(w, f(req))
	}
}

// notice serves an informational callback: its answer is ignored, {}.
func notice[Req any](a *App, f func(*Req)) http.HandlerFunc {
	return decision(a, func(req *Req) struct{} { f(req); return struct{}{} })
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"encoding"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = w.Write(b)
}

func (a *App) state(session string) *state {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.calls[session]
	if st == nil {
		st = &state{}
		a.calls[session] = st
	}
	return st
}

// newCall puts every caller on the IVR.
func (a *App) newCall(req *mediaserver.NewCallRequest) mediaserver.Action {
	a.log("newCall", "from %s", req.CallingParty)
	a.state(req.SessionID)
	return mediaserver.Action{Action: mediaserver.ActionIvr}
}

// getIvrCommand greets, collects one digit and decides.
func (a *App) getIvrCommand(req *mediaserver.IvrCommandRequest) mediaserver.IvrCommand {
	ask := mediaserver.IvrCommand{Dtmf: &mediaserver.DtmfCommand{MaxDigits: 1}, Phrases: say("greeting")}
	d := req.DtmfParams
	if d == nil {
		a.log("getIvrCommand", "reason=%s: greet", req.Reason)
		return ask
	}
	a.log("getIvrCommand", "dtmfMatch=%q reason=%s", d.DtmfMatch, d.Reason)
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.calls[req.SessionID]
	if st == nil {
		st = &state{}
		a.calls[req.SessionID] = st
	}
	switch d.DtmfMatch {
	case "1":
		st.dest = a.Sales
		return mediaserver.IvrCommand{Phrases: say("to-sales"), Hangup: true}
	case "2":
		st.dest = a.Support
		return mediaserver.IvrCommand{Phrases: say("to-support"), Hangup: true}
	}
	if st.tries++; st.tries >= 3 {
		return mediaserver.IvrCommand{Phrases: say("goodbye"), Hangup: true}
	}
	ask.Phrases = say("retry", "greeting")
	return ask
}

// callEvent calls the chosen department once the IVR has hung up, and
// drops whoever is left otherwise.
func (a *App) callEvent(req *mediaserver.CallEventRequest) mediaserver.Action {
	a.log("callEvent", "%s user=%s", req.Event, req.User)
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.calls[req.SessionID]; st != nil && req.Event == mediaserver.EventCalledPartyDrop && st.dest != "" {
		dest := st.dest
		st.dest = ""
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: dest}
	}
	return mediaserver.Action{Action: mediaserver.ActionDrop}
}

func (a *App) callNotify(req *mediaserver.CallNotifyRequest) {
	a.log("callNotify", "%s user=%s", req.Event, req.User)
}

func (a *App) callAnswered(req *mediaserver.CallAnsweredRequest) {
	who := req.CalleeUser
	if req.IVR {
		who = "the IVR"
	}
	a.log("callAnswered", "%s with %s", req.CallerUser, who)
}

// sessionCompleted forgets the session.
func (a *App) sessionCompleted(req *mediaserver.SessionCompletedRequest) {
	a.log("sessionCompleted", "after %s s", req.SessionDuration)
	a.mu.Lock()
	delete(a.calls, req.SessionID)
	a.mu.Unlock()
}

func (a *App) recordingReady(req *mediaserver.RecordingReadyRequest) {
	a.log("recordingReady", "%s, %.1f s: GET %s/promptfile/%s", req.Filename, req.Duration, req.APIBaseURL, req.Filename)
}
