package flows

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/callback"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func post(t *testing.T, h http.Handler, path, body, secret string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if secret != "" {
		tok, err := callback.SignHS256(callback.Claims{IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute),
			Path: path[strings.LastIndex(path, "/"):], BodySHA256: callback.BodyHash([]byte(body))}, []byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, strings.TrimSpace(w.Body.String())
}

// TestWebhook: the adapter decodes each callback into the root package's
// type, records it, answers the script's JSON, refuses bad signatures
// before the application sees them, and answers 500 when the application
// fails, so that the server applies its fallback.
func TestWebhook(t *testing.T) {
	rec := NewRecorder()
	rec.SetScript(mediaserver.HandlerFuncs{
		NewCallFunc: func(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
			if req.User == "bad" {
				return mediaserver.Action{}, errors.New("no")
			}
			return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: "sip:" + req.User + "@x"}, nil
		},
	})
	var seen []Exchange
	h := Webhook(rec, WebhookOptions{Verify: &callback.VerifyOptions{Secret: []byte("k")}, Inspect: func(e Exchange) { seen = append(seen, e) }})
	if code, body := post(t, h, "/hooks/newCall", `{"sessionId":"s","user":"bob"}`, "k"); code != 200 || body != `{"action":"call","destAddr":"sip:bob@x"}` {
		t.Errorf("newCall: %d %s", code, body)
	}
	if code, _ := post(t, h, "/hooks/newCall", `{"sessionId":"s","user":"bad"}`, "k"); code != 500 {
		t.Errorf("failing newCall: %d, want 500", code)
	}
	if code, body := post(t, h, "/hooks/getIvrCommand", `{"sessionId":"s"}`, "k"); code != 200 || body != `{"hangup":true}` {
		t.Errorf("getIvrCommand without a script: %d %s, want the fallback", code, body)
	}
	if code, body := post(t, h, "/hooks/callEvent", `{"sessionId":"s","event":"callingPartyDrop"}`, "k"); code != 200 || body != `{"action":"drop"}` {
		t.Errorf("callEvent: %d %s", code, body)
	}
	if code, body := post(t, h, "/hooks/callNotify", `{"sessionId":"s","event":"ringing"}`, "k"); code != 200 || body != `{}` {
		t.Errorf("callNotify: %d %s", code, body)
	}
	if code, _ := post(t, h, "/hooks/newCall", `{"sessionId":"s"}`, "wrong"); code != 401 {
		t.Errorf("forged newCall: %d, want 401", code)
	}
	if code, _ := post(t, h, "/hooks/newCall", `{"sessionId":`, "k"); code != 500 {
		t.Errorf("truncated newCall: %d, want 500", code)
	}
	if code, _ := post(t, h, "/hooks/bogus", `{}`, "k"); code != 404 {
		t.Errorf("unknown callback: %d, want 404", code)
	}
	want := "newCall newCall getIvrCommand callEvent:callingPartyDrop callNotify:ringing"
	if got := strings.Join(rec.Names(), " "); got != want {
		t.Errorf("recorded %q, want %q", got, want)
	}
	if len(seen) != 8 || seen[5].VerifyErr == nil || seen[0].VerifyErr != nil {
		t.Errorf("inspected %d exchanges; verdicts %v, %v", len(seen), seen[0].VerifyErr, seen[min(5, len(seen)-1)].VerifyErr)
	}
}

// TestRESTErrors: REST maps the API's error statuses to the root
// package's sentinels, as the in-process Control returns them.
func TestRESTErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"message":"Unauthorized"}`)
			return
		}
		switch r.URL.Path {
		case "/splitconnection":
			w.WriteHeader(409)
			_, _ = io.WriteString(w, `{"success":false,"error":"invalidState","message":"stale"}`)
		case "/createconferenceconnection":
			_, _ = io.WriteString(w, `{"success":true,"connectionId":"c1"}`)
		case "/promptfile/x.wav":
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"success":false,"error":"notFound","message":"no x.wav"}`)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := REST{BaseURL: srv.URL, Token: "tok"}
	if err := c.SplitConnection(ctx, mediaserver.SplitConnectionRequest{}); !errors.Is(err, mediaserver.ErrStaleReply) {
		t.Errorf("409: %v, want ErrStaleReply", err)
	}
	if _, err := c.GetPrompt(ctx, "x.wav"); !errors.Is(err, mediaserver.ErrNotFound) {
		t.Errorf("404: %v, want ErrNotFound", err)
	}
	if id, err := c.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{}); err != nil || id != "c1" {
		t.Errorf("createconferenceconnection: %q, %v", id, err)
	}
	var ae *APIError
	if _, err := (REST{BaseURL: srv.URL}).PlaceIvrCall(ctx, mediaserver.PlaceIvrCallRequest{}); !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "Unauthorized" {
		t.Errorf("without a token: %v", err)
	}
}
