package callback

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"

	"github.com/mediaserver-go/mediaserver/internal/testnet"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newTestHandler returns a Handler posting to baseURL, signed RS256 with
// the first test key, closed at the end of the test.
func newTestHandler(t testing.TB, baseURL string, mod ...func(*Config)) *Handler {
	t.Helper()
	cfg := Config{
		BaseURL:      baseURL,
		SigningKey:   testKeys()[0],
		Domain:       "tenant.example.com",
		RetryBackoff: 10 * time.Millisecond,
		Logger:       quietLogger(),
	}
	for _, m := range mod {
		m(&cfg)
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func meta(session string) mediaserver.Meta {
	return mediaserver.Meta{SessionID: session, Domain: "tenant.example.com", Timestamp: time.Now().UTC().Format(time.RFC3339Nano), APIBaseURL: "http://127.0.0.1:8080"}
}

// TestHandlerPostsEveryCallback sends each callback once and checks the
// path, the JSON names, the headers, the signature and the decoded answer.
func TestHandlerPostsEveryCallback(t *testing.T) {
	ctx := t.Context()
	s := loadSpec(t)
	app := newFakeApp(t, s, func(_ *http.Request, name string, _ []byte) (int, string) {
		switch name {
		case "newCall":
			return 200, `{"action":"call","destAddr":"sip:b@example.com","callRecording":true,"fileName":"rec1","monitorDestAddr":"sip:m@example.com","unknownField":[1,2]}`
		case "callEvent":
			return 200, `{"action":"connect","participantId":"p-a","replyId":"r-b"}`
		case "getIvrCommand":
			return 200, `{"dtmf":{"maxDigits":3,"terminationKey":"#"},"bargeIn":"all","phrases":[{"format":"file","fileName":"landsa"},{"format":"awstts","awsTTSParameters":{"Text":"Hi","VoiceId":"Kendra"}}],"hangup":false,"getIVRCommandAfter":20}`
		}
		return 200, `{}`
	})
	app.strict = true
	h := newTestHandler(t, app.URL())

	act, err := h.NewCall(ctx, &mediaserver.NewCallRequest{Meta: meta("s1"), SipCallID: "c1", ParticipantID: "p1", ReplyID: "r1", CallingParty: "sip:a@x", CalledParty: "sip:ivr@y", User: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if act.Action != "call" || act.DestAddr != "sip:b@example.com" || !act.CallRecording || act.Filename != "rec1" || act.MonitorDestAddr != "sip:m@example.com" {
		t.Errorf("newCall answer decoded as %+v", act)
	}
	act, err = h.CallEvent(ctx, &mediaserver.CallEventRequest{Meta: meta("s1"), Event: mediaserver.EventCalleeConnectionSplit, User: "c", ReplyID: "r2", ParticipantID: "p2", ConnectionID: "c1"})
	if err != nil || act.Action != "connect" || act.ParticipantID != "p-a" || act.ReplyID != "r-b" {
		t.Errorf("callEvent answer %+v, %v", act, err)
	}
	cmd, err := h.GetIvrCommand(ctx, &mediaserver.IvrCommandRequest{Meta: meta("s1"), ConnectionID: "c2", ParticipantID: "p3", ReplyID: "r3",
		DtmfParams: &mediaserver.DtmfParams{DtmfMatch: "2", Reason: "maxDigits"}, Reason: "dtmf"})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Dtmf == nil || cmd.Dtmf.MaxDigits != 3 || cmd.Dtmf.TerminationKey != "#" || len(cmd.Phrases) != 2 ||
		cmd.Phrases[1].AwsTTSParameters.VoiceID != "Kendra" || cmd.GetIVRCommandAfter != 20 || cmd.BargeIn != "all" {
		t.Errorf("getIvrCommand answer decoded as %+v", cmd)
	}
	if err := h.CallNotify(ctx, &mediaserver.CallNotifyRequest{Meta: meta("s1"), Event: "ringing", ReplyID: "r4", ParticipantID: "p4", User: "b", SipStatusCode: 180}); err != nil {
		t.Fatal(err)
	}
	if err := h.CallAnswered(ctx, &mediaserver.CallAnsweredRequest{Meta: meta("s1"), ConnectionID: "c3", ReplyID: "r5", CallerParticipantID: "p1", CalleeParticipantID: "p4", CallerUser: "a", CalleeUser: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := h.SessionCompleted(ctx, &mediaserver.SessionCompletedRequest{Meta: meta("s1"), SessionDuration: "41.8", StartTime: time.Now().UTC().Format(time.RFC3339), EndTime: time.Now().UTC().Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
	if err := h.RecordingReady(ctx, &mediaserver.RecordingReadyRequest{Meta: meta("s1"), ConnectionID: "c3", Filename: "rec1.wav", Duration: 12.5, Size: 200044, Format: "wav"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	app.checkHooks()
	wantNames := []string{"newCall", "callEvent:calleeConnectionSplit", "getIvrCommand", "callNotify:ringing", "callAnswered", "sessionCompleted", "recordingReady"}
	if got := app.Names(); !slices.Equal(got, wantNames) {
		t.Fatalf("callbacks %v, want %v", got, wantNames)
	}
	wantFields := map[string][]string{
		"newCall":          {"sessionId", "domain", "timestamp", "apiBaseUrl", "sipCallId", "participantId", "replyId", "callingParty", "calledParty", "user"},
		"callEvent":        {"event", "user", "replyId", "participantId", "connectionId"},
		"getIvrCommand":    {"connectionId", "participantId", "replyId", "dtmfParams", "reason"},
		"callNotify":       {"event", "replyId", "participantId", "user", "sipStatusCode"},
		"callAnswered":     {"connectionId", "replyId", "callerParticipantId", "calleeParticipantId", "callerUser", "calleeUser"},
		"sessionCompleted": {"sessionDuration", "startTime", "endTime"},
		"recordingReady":   {"connectionId", "filename", "duration", "size", "format"},
	}
	for _, hk := range app.Hooks() {
		m := hk.fields(t)
		for _, f := range wantFields[hk.name] {
			if _, ok := m[f]; !ok {
				t.Errorf("%s: no field %q in %s", hk.name, f, hk.body)
			}
		}
		if ct := hk.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", hk.name, ct)
		}
		if got := hk.header.Get(HeaderAPIBaseURL); got != "http://127.0.0.1:8080" {
			t.Errorf("%s: %s %q", hk.name, HeaderAPIBaseURL, got)
		}
		c := hk.claims
		if c.Path != "/"+hk.name || c.Issuer != "mediaserver" || c.Domain != "tenant.example.com" || c.ExpiresAt.Sub(c.IssuedAt) != 5*time.Minute {
			t.Errorf("%s: claims %+v", hk.name, c)
		}
	}
	if m := app.Hooks()[2].fields(t); m["dtmfParams"].(map[string]any)["dtmfMatch"] != "2" {
		t.Errorf("getIvrCommand dtmfParams %v", m["dtmfParams"])
	}
	if st := h.Stats(); st.Delivered != 7 || st.Failed != 0 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := h.SessionCompleted(ctx, &mediaserver.SessionCompletedRequest{Meta: meta("s2")}); !errors.Is(err, ErrClosed) {
		t.Errorf("SessionCompleted after Shutdown: %v, want ErrClosed", err)
	}
}

// TestHandlerSigningOptions checks HS256 and unsigned callbacks, and a
// configured API base URL header.
func TestHandlerSigningOptions(t *testing.T) {
	ctx := t.Context()
	s := loadSpec(t)
	app := newFakeApp(t, s, nil)
	secret := []byte("0123456789abcdef0123456789abcdef")
	hs := newTestHandler(t, app.URL(), func(c *Config) {
		c.SigningKey, c.Secret, c.Issuer, c.APIBaseURL = nil, secret, "iotcomms.io", "https://ms1.example.com"
	})
	if err := hs.CallNotify(ctx, &mediaserver.CallNotifyRequest{Meta: meta("s1"), Event: "ringing"}); err != nil {
		t.Fatal(err)
	}
	unsigned := newTestHandler(t, app.URL(), func(c *Config) { c.SigningKey = nil })
	if err := unsigned.CallNotify(ctx, &mediaserver.CallNotifyRequest{Meta: mediaserver.Meta{SessionID: "s2"}, Event: "ringing"}); err != nil {
		t.Fatal(err)
	}
	hooks := app.Hooks()
	if len(hooks) != 2 {
		t.Fatalf("%d callbacks", len(hooks))
	}
	r := httptest.NewRequest(http.MethodPost, "/app/callNotify", nil)
	r.Header = hooks[0].header
	c, err := Verify(r, hooks[0].body, VerifyOptions{Secret: secret, Issuer: "iotcomms.io"})
	if err != nil || c.Path != "/callNotify" {
		t.Errorf("HS256 callback: %+v, %v", c, err)
	}
	if _, err := Verify(r, hooks[0].body, VerifyOptions{PublicKey: &testKeys()[0].PublicKey}); !errors.Is(err, ErrMalformedToken) {
		t.Errorf("HS256 token checked as RS256: %v, want ErrMalformedToken", err)
	}
	if got := hooks[0].header.Get(HeaderAPIBaseURL); got != "https://ms1.example.com" {
		t.Errorf("configured API base URL header %q", got)
	}
	if a := hooks[1].header.Get("Authorization"); a != "" || !errors.Is(hooks[1].verifyErr, ErrNoToken) {
		t.Errorf("unsigned callback has Authorization %q (%v)", a, hooks[1].verifyErr)
	}
	if got := hooks[1].header.Get(HeaderAPIBaseURL); got != "" {
		t.Errorf("API base URL header %q without one configured", got)
	}
}

// TestVerifyRejects checks every way a callback token can be wrong.
func TestVerifyRejects(t *testing.T) {
	key, other := testKeys()[0], testKeys()[1]
	body := []byte(`{"sessionId":"s1","event":"ringing"}`)
	now := time.Now()
	good := Claims{Issuer: "mediaserver", IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute), Path: "/callNotify", BodySHA256: BodyHash(body)}
	sign := func(c Claims, k *rsa.PrivateKey) string {
		tok, err := SignRS256(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	with := func(f func(*Claims)) Claims { c := good; f(&c); return c }
	opts := VerifyOptions{PublicKey: &key.PublicKey}
	tests := []struct {
		name   string
		auth   string
		body   []byte
		target string
		opts   VerifyOptions
		want   error
	}{
		{"good", "Bearer " + sign(good, key), body, "/hooks/callNotify", opts, nil},
		{"tampered body", "Bearer " + sign(good, key), []byte(`{"sessionId":"s2","event":"ringing"}`), "/callNotify", opts, ErrBodyMismatch},
		{"old timestamp", "Bearer " + sign(with(func(c *Claims) { c.IssuedAt, c.ExpiresAt = now.Add(-time.Hour), now.Add(-55*time.Minute) }), key), body, "/callNotify", opts, ErrExpired},
		{"verified later", "Bearer " + sign(good, key), body, "/callNotify", VerifyOptions{PublicKey: &key.PublicKey, now: func() time.Time { return now.Add(6 * time.Minute) }}, ErrExpired},
		{"issued in the future", "Bearer " + sign(with(func(c *Claims) { c.IssuedAt = now.Add(time.Hour); c.ExpiresAt = now.Add(2 * time.Hour) }), key), body, "/callNotify", opts, ErrExpired},
		{"no exp", "Bearer " + sign(with(func(c *Claims) { c.ExpiresAt = time.Time{} }), key), body, "/callNotify", opts, ErrExpired},
		{"other path", "Bearer " + sign(good, key), body, "/newCall", opts, ErrPathMismatch},
		{"other key", "Bearer " + sign(good, other), body, "/callNotify", opts, ErrBadSignature},
		{"issuer", "Bearer " + sign(good, key), body, "/callNotify", VerifyOptions{PublicKey: &key.PublicKey, Issuer: "iotcomms.io"}, ErrIssuerMismatch},
		{"no header", "", body, "/callNotify", opts, ErrNoToken},
		{"basic auth", "Basic dXNlcjpwYXNz", body, "/callNotify", opts, ErrNoToken},
		{"garbage", "Bearer not.a.jwt", body, "/callNotify", opts, ErrMalformedToken},
		{"alg none", "Bearer " + noneToken(good), body, "/callNotify", opts, ErrMalformedToken},
		{"no key", "Bearer " + sign(good, key), body, "/callNotify", VerifyOptions{}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.target, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			_, err := Verify(r, tt.body, tt.opts)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}

// noneToken is an unsigned token with "alg": "none".
func noneToken(c Claims) string {
	input, _ := signingInput("none", c)
	return input + "."
}

// TestDecisionFailures checks that every failing answer to a decision
// callback is an error (so the server applies the fallback of API.md §6),
// and that the error says what went wrong.
func TestDecisionFailures(t *testing.T) {
	s := loadSpec(t)
	slow := func(r *http.Request, _ string, _ []byte) (int, string) {
		<-r.Context().Done() // the Handler gave up
		return 200, `{"action":"drop"}`
	}
	tests := []struct {
		name    string
		answer  answerFunc
		hook    string
		wantErr error
		status  int
	}{
		{"500", fixed(500, `{"error":"boom"}`), "newCall", nil, 500},
		{"404", fixed(404, ``), "callEvent", nil, 404},
		{"timeout", slow, "getIvrCommand", context.DeadlineExceeded, 0},
		{"garbage JSON", fixed(200, `{"action": drop}`), "newCall", ErrBadAnswer, 0},
		{"HTML", fixed(200, `<html>oops</html>`), "callEvent", ErrBadAnswer, 0},
		{"empty body", fixed(200, ``), "getIvrCommand", ErrBadAnswer, 0},
		{"unknown action", fixed(200, `{"action":"transfer"}`), "newCall", ErrBadAnswer, 0},
		{"missing action", fixed(200, `{"destAddr":"sip:b@x"}`), "callEvent", ErrBadAnswer, 0},
		{"connect in newCall", fixed(200, `{"action":"connect","participantId":"p"}`), "newCall", ErrBadAnswer, 0},
		{"call without destAddr", fixed(200, `{"action":"call"}`), "callEvent", ErrBadAnswer, 0},
		{"wrong type", fixed(200, `{"action":5}`), "newCall", ErrBadAnswer, 0},
		{"ivr unknown action", fixed(200, `{"action":"ivr"}`), "getIvrCommand", ErrBadAnswer, 0},
		{"ivr wrong type", fixed(200, `{"phrases":"hello"}`), "getIvrCommand", ErrBadAnswer, 0},
		{"too large", fixed(200, `{"action":"drop","pad":"`+strings.Repeat("x", 2000)+`"}`), "newCall", ErrBadAnswer, 0},
		{"array", fixed(200, `[{"action":"drop"}]`), "callEvent", ErrBadAnswer, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newFakeApp(t, s, tt.answer)
			h := newTestHandler(t, app.URL(), func(c *Config) {
				c.DecisionTimeout = 300 * time.Millisecond
				c.MaxAnswerSize = 1024
			})
			start := time.Now()
			err := decide(t.Context(), h, tt.hook)
			if err == nil {
				t.Fatal("no error")
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			var de *DeliveryError
			switch {
			case tt.status != 0:
				if !errors.As(err, &de) || de.StatusCode != tt.status {
					t.Errorf("error %v, want a DeliveryError with status %d", err, tt.status)
				}
			case !errors.Is(err, tt.wantErr):
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), app.URL()+"/"+tt.hook) && !strings.Contains(err.Error(), "/"+tt.hook) {
				t.Errorf("error %q does not name the callback", err)
			}
			if st := h.Stats(); st.Delivered+st.Failed != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func fixed(status int, body string) answerFunc {
	return func(*http.Request, string, []byte) (int, string) { return status, body }
}

// decide makes one decision callback by name.
func decide(ctx context.Context, h *Handler, hook string) error {
	var err error
	switch hook {
	case "newCall":
		_, err = h.NewCall(ctx, &mediaserver.NewCallRequest{Meta: meta("s1")})
	case "callEvent":
		_, err = h.CallEvent(ctx, &mediaserver.CallEventRequest{Meta: meta("s1"), Event: "callingPartyDrop"})
	case "getIvrCommand":
		_, err = h.GetIvrCommand(ctx, &mediaserver.IvrCommandRequest{Meta: meta("s1")})
	default:
		err = fmt.Errorf("no decision %s", hook)
	}
	return err
}

// TestInformationalOneAttempt checks that callNotify and callAnswered get
// one attempt of at most NotifyTimeout, and that a 4xx is an error.
func TestInformationalOneAttempt(t *testing.T) {
	s := loadSpec(t)
	var calls atomic.Int32
	app := newFakeApp(t, s, func(r *http.Request, _ string, _ []byte) (int, string) {
		if calls.Add(1) == 1 {
			<-r.Context().Done()
		}
		return 400, `{}`
	})
	h := newTestHandler(t, app.URL(), func(c *Config) { c.NotifyTimeout = 200 * time.Millisecond })
	start := time.Now()
	err := h.CallNotify(t.Context(), &mediaserver.CallNotifyRequest{Meta: meta("s1"), Event: "ringing"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow callNotify: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("callNotify took %v", d)
	}
	err = h.CallAnswered(t.Context(), &mediaserver.CallAnsweredRequest{Meta: meta("s1")})
	var de *DeliveryError
	if !errors.As(err, &de) || de.StatusCode != 400 {
		t.Errorf("callAnswered answered 400: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d attempts, want 2 (one each)", n)
	}
}

// TestQueuedRetryOrder checks that sessionCompleted and recordingReady
// are retried on 5xx and delivered in order per session: each session's
// recordingReady only after its sessionCompleted was accepted.
func TestQueuedRetryOrder(t *testing.T) {
	s := loadSpec(t)
	var mu sync.Mutex
	fails := map[string]int{} // sessionId → sessionCompleted failures left
	accepted := map[string]time.Time{}
	var order []string
	app := newFakeApp(t, s, func(_ *http.Request, name string, body []byte) (int, string) {
		var m struct{ SessionID string }
		if err := jsonUnmarshal(body, &m); err != nil {
			return 400, `{}`
		}
		mu.Lock()
		defer mu.Unlock()
		if name == "sessionCompleted" && fails[m.SessionID] > 0 {
			fails[m.SessionID]--
			return 503, `{}`
		}
		order = append(order, m.SessionID+":"+name)
		accepted[m.SessionID+":"+name] = time.Now()
		return 200, `{}`
	})
	h := newTestHandler(t, app.URL(), func(c *Config) { c.Workers = 2 })
	const n = 6
	mu.Lock()
	for i := range n {
		fails[fmt.Sprintf("s%d", i)] = i % 4 // 0 to 3 failures: at most Retries
	}
	mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("s%d", i)
		if err := h.SessionCompleted(t.Context(), &mediaserver.SessionCompletedRequest{Meta: meta(id), SessionDuration: "1.0"}); err != nil {
			t.Fatal(err)
		}
		if err := h.RecordingReady(t.Context(), &mediaserver.RecordingReadyRequest{Meta: meta(id), Filename: id + ".wav", Format: "wav"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2*n {
		t.Fatalf("delivered %v", order)
	}
	for i := range n {
		id := fmt.Sprintf("s%d", i)
		sc, rr := slices.Index(order, id+":sessionCompleted"), slices.Index(order, id+":recordingReady")
		if sc < 0 || rr < sc {
			t.Errorf("%s: sessionCompleted at %d, recordingReady at %d: %v", id, sc, rr, order)
		}
	}
	st := h.Stats()
	if st.Delivered != 2*n || st.Retried != 0+1+2+3+0+1 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	app.checkHooks()
}

// TestQueuedGivesUp checks that a 4xx is not retried and that a 5xx is
// retried Config.Retries times, then dropped with an error log.
func TestQueuedGivesUp(t *testing.T) {
	s := loadSpec(t)
	var attempts sync.Map
	app := newFakeApp(t, s, func(_ *http.Request, name string, _ []byte) (int, string) {
		v, _ := attempts.LoadOrStore(name, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
		if name == "sessionCompleted" {
			return 422, `{}`
		}
		return 500, `{}`
	})
	var logs strings.Builder
	var logMu sync.Mutex
	h := newTestHandler(t, app.URL(), func(c *Config) {
		c.Retries = 2
		c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	})
	_ = h.SessionCompleted(t.Context(), &mediaserver.SessionCompletedRequest{Meta: meta("s-given-up")})
	_ = h.RecordingReady(t.Context(), &mediaserver.RecordingReadyRequest{Meta: meta("s-given-up")})
	if err := h.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	count := func(name string) int32 {
		v, ok := attempts.Load(name)
		if !ok {
			return 0
		}
		return v.(*atomic.Int32).Load()
	}
	if count("sessionCompleted") != 1 || count("recordingReady") != 3 {
		t.Errorf("attempts: sessionCompleted %d (want 1), recordingReady %d (want 3)", count("sessionCompleted"), count("recordingReady"))
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if strings.Count(out, "giving up") != 2 || !strings.Contains(out, "sessionId=s-given-up") || strings.Count(out, "retrying") != 2 {
		t.Errorf("log:\n%s", out)
	}
	if st := h.Stats(); st.Failed != 2 || st.Retried != 2 {
		t.Errorf("stats %+v", st)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestFallbackURL checks that a callback the primary URL does not take
// (connection refused, 5xx, timeout) goes to the fallback URL, and that a
// 4xx does not.
func TestFallbackURL(t *testing.T) {
	s := loadSpec(t)
	refusedURL := "http://" + testnet.RefusingAddr(t)
	failing := newFakeApp(t, s, fixed(502, `bad gateway`))
	slow := newFakeApp(t, s, func(r *http.Request, _ string, _ []byte) (int, string) {
		<-r.Context().Done()
		return 200, `{"action":"drop"}`
	})
	rejecting := newFakeApp(t, s, fixed(403, `{}`))
	tests := []struct {
		name      string
		primary   string
		wantFall  bool
		wantError bool
	}{
		{"refused", refusedURL, true, false},
		{"5xx", failing.URL(), true, false},
		{"timeout", slow.URL(), true, false},
		{"4xx", rejecting.URL(), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fallback := newFakeApp(t, s, fixed(200, `{"action":"ivr"}`))
			h := newTestHandler(t, tt.primary, func(c *Config) {
				c.FallbackURL = fallback.URL() + "/"
				c.DecisionTimeout = 900 * time.Millisecond
				c.DeliveryTimeout = 900 * time.Millisecond
			})
			act, err := h.NewCall(t.Context(), &mediaserver.NewCallRequest{Meta: meta("s1")})
			if (err != nil) != tt.wantError {
				t.Fatalf("newCall: %+v, %v", act, err)
			}
			if !tt.wantError && act.Action != "ivr" {
				t.Errorf("newCall answer %+v, want the fallback's ivr", act)
			}
			if err := h.SessionCompleted(t.Context(), &mediaserver.SessionCompletedRequest{Meta: meta("s1"), SessionDuration: "1"}); err != nil {
				t.Fatal(err)
			}
			if err := h.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := fallback.Names()
			if tt.wantFall && !slices.Equal(got, []string{"newCall", "sessionCompleted"}) {
				t.Errorf("fallback got %v", got)
			}
			if !tt.wantFall && len(got) != 0 {
				t.Errorf("fallback got %v after a 4xx", got)
			}
			fallback.checkHooks()
		})
	}
}

// TestShutdownBounded checks that Shutdown delivers what is queued before
// it returns, refuses later callbacks, and with an expiring context
// returns promptly with the rest dropped and no goroutine left.
func TestShutdownBounded(t *testing.T) {
	s := loadSpec(t)
	release := make(chan struct{})
	app := newFakeApp(t, s, func(r *http.Request, _ string, _ []byte) (int, string) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return 200, `{}`
	})
	h := newTestHandler(t, app.URL(), func(c *Config) { c.Workers = 1 })
	for i := range 5 {
		if err := h.SessionCompleted(t.Context(), &mediaserver.SessionCompletedRequest{Meta: meta(fmt.Sprint("s", i))}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := h.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stuck application: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	close(release)
	if st := h.Stats(); st.Delivered != 0 || st.Dropped+st.Failed != 5 {
		t.Errorf("stats %+v", st)
	}

	// A healthy application gets everything before Shutdown returns.
	app2 := newFakeApp(t, s, nil)
	h2 := newTestHandler(t, app2.URL())
	for i := range 50 {
		_ = h2.SessionCompleted(t.Context(), &mediaserver.SessionCompletedRequest{Meta: meta(fmt.Sprint("s", i)), SessionDuration: "1"})
	}
	if err := h2.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(app2.Hooks()); n != 50 {
		t.Errorf("%d of 50 delivered before Shutdown returned", n)
	}
	if err := h2.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestQueueFull checks that a full queue refuses at once.
func TestQueueFull(t *testing.T) {
	s := loadSpec(t)
	release := make(chan struct{})
	app := newFakeApp(t, s, func(r *http.Request, _ string, _ []byte) (int, string) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return 200, `{}`
	})
	h := newTestHandler(t, app.URL(), func(c *Config) { c.Workers, c.QueueSize = 1, 2 })
	var full int
	for i := range 6 {
		err := h.SessionCompleted(t.Context(), &mediaserver.SessionCompletedRequest{Meta: meta(fmt.Sprint("s", i))})
		if errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full < 3 {
		t.Errorf("%d of 6 refused with a queue of 2 and one in flight", full)
	}
	close(release)
	if err := h.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestNewHandlerConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {BaseURL: "ftp://x"}, {BaseURL: "http://"}, {BaseURL: "http://x?a=b"}, {BaseURL: "http://x", FallbackURL: "nope"}} {
		if h, err := NewHandler(cfg); err == nil {
			_ = h.Close()
			t.Errorf("NewHandler(%+v) accepted", cfg)
		}
	}
	h, err := NewHandler(Config{BaseURL: "http://127.0.0.1:1/app/"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	if h.own == nil || h.own.MaxIdleConnsPerHost < 256 {
		t.Errorf("default transport keeps %d idle connections per host, want ≥ 256", h.own.MaxIdleConnsPerHost)
	}
	if h.cfg.BaseURL != "http://127.0.0.1:1/app" || h.cfg.DecisionTimeout != 5*time.Second || h.cfg.NotifyTimeout != 2*time.Second || h.cfg.Retries != 3 {
		t.Errorf("defaults %+v", h.cfg)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
