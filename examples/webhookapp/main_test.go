package main

import (
	"encoding/json"
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

// TestDemo runs the whole demo: the server with the webhook adapter posting
// to the application, phones on loopback, the callbacks in order and the
// audio checks.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo with SIP phones on loopback")
	}
	if err := runDemo(t.Context(), t.Output(), false); err != nil {
		t.Fatal(err)
	}
}

// post sends a callback signed HS256 with secret (unsigned when secret is
// empty) and returns the status and the decoded answer.
func post(t *testing.T, h http.Handler, path, body, secret string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if secret != "" {
		tok, err := callback.SignHS256(callback.Claims{Issuer: "mediaserver", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute),
			Path: path[strings.LastIndexByte(path, '/'):], BodySHA256: callback.BodyHash([]byte(body))}, []byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]any
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s: answer %q: %v", path, w.Body, err)
		}
	}
	return w.Code, m
}

// TestMenu walks the menu callback by callback: a wrong digit is asked
// again, the third ends the call, 2 routes to support; unsigned, forged and
// malformed callbacks are refused.
func TestMenu(t *testing.T) {
	const secret = "s3cret"
	app := &App{Sales: "sip:sales@192.0.2.10", Support: "sip:support@192.0.2.11", Verify: &callback.VerifyOptions{Secret: []byte(secret)}}
	if code, _ := post(t, app, "/newCall", `{"sessionId":"s1"}`, ""); code != http.StatusUnauthorized {
		t.Errorf("unsigned newCall: %d, want 401", code)
	}
	if code, _ := post(t, app, "/newCall", `{"sessionId":"s1"}`, "wrong"); code != http.StatusUnauthorized {
		t.Errorf("forged newCall: %d, want 401", code)
	}
	if code, _ := post(t, app, "/newCall", `{"sessionId":`, secret); code != http.StatusBadRequest {
		t.Errorf("truncated newCall: %d, want 400", code)
	}
	if code, ans := post(t, app, "/ms/newCall", `{"sessionId":"s1","callingParty":"sip:alice@x"}`, secret); code != 200 || ans["action"] != mediaserver.ActionIvr {
		t.Fatalf("newCall: %d %v", code, ans)
	}
	_, ans := post(t, app, "/getIvrCommand", `{"sessionId":"s1","reason":"connected"}`, secret)
	if d, _ := ans["dtmf"].(map[string]any); d["maxDigits"] != 1.0 || !strings.Contains(toJSON(ans["phrases"]), "Press 1 for sales") {
		t.Errorf("first command %v", ans)
	}
	digit := func(session, d string) map[string]any {
		_, ans := post(t, app, "/getIvrCommand", `{"sessionId":"`+session+`","reason":"dtmf","dtmfParams":{"dtmfMatch":"`+d+`","reason":"maxDigits"}}`, secret)
		return ans
	}
	for _, d := range []string{"7", "8"} {
		if ans := digit("s1", d); ans["hangup"] == true || !strings.Contains(toJSON(ans["phrases"]), "did not get that") {
			t.Errorf("digit %s: %v, want asked again", d, ans)
		}
	}
	if ans := digit("s1", "9"); ans["hangup"] != true || !strings.Contains(toJSON(ans["phrases"]), "Goodbye") {
		t.Errorf("third wrong digit: %v, want goodbye and hangup", ans)
	}
	if _, ans := post(t, app, "/callEvent", `{"sessionId":"s1","event":"calledPartyDrop"}`, secret); ans["action"] != mediaserver.ActionDrop {
		t.Errorf("callEvent after goodbye: %v, want drop", ans)
	}
	post(t, app, "/newCall", `{"sessionId":"s2"}`, secret)
	if ans := digit("s2", "2"); ans["hangup"] != true || !strings.Contains(toJSON(ans["phrases"]), "connected to support") {
		t.Errorf("digit 2: %v", ans)
	}
	if _, ans := post(t, app, "/callEvent", `{"sessionId":"s2","event":"calledPartyDrop"}`, secret); ans["action"] != mediaserver.ActionCall || ans["destAddr"] != app.Support {
		t.Errorf("callEvent after digit 2: %v, want a call to support", ans)
	}
	for _, p := range []string{"/callNotify", "/callAnswered", "/sessionCompleted", "/recordingReady"} {
		if code, ans := post(t, app, p, `{"sessionId":"s2"}`, secret); code != 200 || len(ans) != 0 {
			t.Errorf("%s: %d %v, want 200 {}", p, code, ans)
		}
	}
	if code, _ := post(t, app, "/bogus", `{}`, secret); code != http.StatusNotFound {
		t.Errorf("unknown callback: %d, want 404", code)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
