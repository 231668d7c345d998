package callback

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestE2EIVRInterrupt: an inbound call on an IVR that plays a long prompt
// uploaded over REST; POST /interruptivrcommand stops it and the next
// getIvrCommand says "interrupted"; the IVR hangs up, the application
// drops the caller, and sessionCompleted follows.
func TestE2EIVRInterrupt(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	r := newRig(t, script{
		"newCall": func(map[string]any) string { return `{"action":"ivr"}` },
		"getIvrCommand": func(m map[string]any) string {
			if str(m, "reason") == "interrupted" {
				return `{"hangup":true}`
			}
			return `{"phrases":[{"format":"file","fileName":"tone600"}]}`
		},
		"callEvent": func(map[string]any) string { return `{"action":"drop"}` },
	}.answer, rigOptions{})
	r.must(http.MethodPut, "/promptfile/tone600.wav", toneWAV(600, 20*time.Second))
	a := r.phone("alice", 440)
	call, err := a.Dial(ctx, r.uri("ivr"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitHeard(ctx, 600, 0.5); err != nil {
		t.Fatalf("the caller does not hear the prompt: %v", err)
	}
	first := r.app.wait(ctx, "getIvrCommand", 0).fields(t)
	if first["reason"] != "connected" {
		t.Errorf("first getIvrCommand reason %v", first["reason"])
	}
	r.must(http.MethodPost, "/interruptivrcommand", map[string]string{"replyId": str(first, "replyId"), "connectionId": str(first, "connectionId")})
	r.app.wait(ctx, "getIvrCommand", 1)
	if reason, err := call.WaitEnded(ctx); err != nil || reason != mediaservertest.EndRemoteBye {
		t.Fatalf("caller ended with %v, %v", reason, err)
	}
	done := r.app.wait(ctx, "sessionCompleted", 0).fields(t)
	inOrder(t, r.app.Names(), "newCall", "callAnswered", "getIvrCommand", "getIvrCommand", "callEvent:calledPartyDrop", "sessionCompleted")
	second := r.app.wait(ctx, "getIvrCommand", 1).fields(t)
	if second["reason"] != "interrupted" {
		t.Errorf("second getIvrCommand reason %v, want interrupted", second["reason"])
	}
	// The session is gone, and with it what the replyId named.
	rep := r.do(http.MethodPost, "/interruptivrcommand", map[string]string{"replyId": str(first, "replyId")})
	if rep.status != http.StatusNotFound || rep.str("error") != "notFound" || !rep.docValid() {
		t.Errorf("interrupt with a stale replyId: %d %s", rep.status, rep.raw)
	}
	// The session's call flow is served as a Mermaid diagram.
	trace := r.do(http.MethodGet, "/sessions/"+str(done, "sessionId"), nil)
	if trace.status != http.StatusOK || !strings.Contains(string(trace.raw), "sequenceDiagram") {
		t.Errorf("GET /sessions/{id}: %d %.200s", trace.status, trace.raw)
	}
	if again := r.do(http.MethodGet, "/sessions/"+str(done, "sessionId")+"/trace", nil); again.status != http.StatusOK || !bytes.Equal(again.raw, trace.raw) {
		t.Errorf("GET /sessions/{id}/trace: %d %.200s, want the diagram of /sessions/{id}", again.status, again.raw)
	}
	if list := r.do(http.MethodGet, "/sessions", nil); list.status != http.StatusOK || !strings.Contains(string(list.raw), str(done, "sessionId")) {
		t.Errorf("GET /sessions: %d %s", list.status, list.raw)
	}
	if rep := r.do(http.MethodGet, "/sessions/nosuchsession", nil); rep.status != http.StatusNotFound || rep.str("error") != "notFound" {
		t.Errorf("GET /sessions/nosuchsession: %d %s", rep.status, rep.raw)
	}
	for _, h := range r.app.Hooks() {
		m := h.fields(t)
		if m["sessionId"] != done["sessionId"] || m["apiBaseUrl"] != r.http.URL || h.header.Get(HeaderAPIBaseURL) != r.http.URL || m["domain"] != "tenant.example.com" {
			t.Errorf("%s: sessionId %v, apiBaseUrl %v, header %q, domain %v", h.name, m["sessionId"], m["apiBaseUrl"], h.header.Get(HeaderAPIBaseURL), m["domain"])
		}
	}
	r.app.checkHooks()
}

// TestE2ESplitAndConference: A calls B; the application creates a
// conference over REST, splits A↔B over REST and both join it, hearing
// each other through the mix; mute, unmute, hangupparticipant over REST;
// stale replyIds answer 409.
func TestE2ESplitAndConference(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	var conf string
	r := newRig(t, nil, rigOptions{})
	alice, bob := r.phone("alice", 440), r.phone("bob", 1800)
	r.app.setAnswer(script{
		"newCall": func(map[string]any) string { return `{"action":"call","destAddr":"` + bob.URI() + `"}` },
		"callEvent": func(m map[string]any) string {
			if strings.HasSuffix(str(m, "event"), "ConnectionSplit") {
				return `{"action":"joinconferenceconnection","connectionId":"` + conf + `"}`
			}
			return `{"action":"drop"}`
		},
	}.answer)
	ca, err := alice.Dial(ctx, r.uri("pbx"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := bob.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ab := r.app.wait(ctx, "callAnswered", 0).fields(t)
	if err := ca.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("A does not hear B: %v", err)
	}
	rep := r.must(http.MethodPost, "/tenant.example.com/createconferenceconnection", `{}`)
	conf = rep.str("connectionId")
	if conf == "" {
		t.Fatalf("createconferenceconnection: %s", rep.raw)
	}
	split := map[string]string{"connectionId": str(ab, "connectionId"), "replyId": str(ab, "replyId")}
	r.must(http.MethodPost, "/splitconnection", split)
	evA := r.app.wait(ctx, "callEvent:callerConnectionSplit", 0).fields(t)
	evB := r.app.wait(ctx, "callEvent:calleeConnectionSplit", 0).fields(t)
	if err := ca.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("A does not hear B in the conference: %v", err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("B does not hear A in the conference: %v", err)
	}
	// A stale split answers 409 invalidState and changes nothing.
	if rep := r.do(http.MethodPost, "/splitconnection", split); rep.status != http.StatusConflict || rep.str("error") != "invalidState" {
		t.Errorf("second split: %d %s", rep.status, rep.raw)
	}
	mute := map[string]string{"participantId": str(evA, "participantId"), "replyId": str(evA, "replyId"), "direction": "in"}
	r.must(http.MethodPost, "/muteparticipant", mute)
	r.must(http.MethodPost, "/unmuteparticipant", mute)
	mute["direction"] = "sideways"
	if rep := r.do(http.MethodPost, "/muteparticipant", mute); rep.status != http.StatusBadRequest || rep.str("error") != "invalidRequest" || rep.docValid() {
		t.Errorf("mute sideways: %d %s (document accepts: %v)", rep.status, rep.raw, rep.docValid())
	}
	r.must(http.MethodPost, "/hangupparticipant", map[string]string{"participantId": str(evB, "participantId"), "replyId": str(evB, "replyId"), "sessionId": str(evB, "sessionId")})
	if reason, err := cb.WaitEnded(ctx); err != nil || reason != mediaservertest.EndRemoteBye {
		t.Fatalf("B ended with %v, %v", reason, err)
	}
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	r.app.wait(ctx, "sessionCompleted", 0)
	inOrder(t, r.app.Names(), "newCall", "callAnswered", "sessionCompleted")
	r.app.checkHooks()
}

// TestE2EPlaceIvrCallRecording: POST /placeivrcall with a recording; the
// called phone hears the IVR's prompt; the IVR hangs up, the application
// drops the phone; sessionCompleted, then recordingReady; the recording
// is downloaded with GET /promptfile and deleted.
func TestE2EPlaceIvrCallRecording(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	r := newRig(t, script{
		"getIvrCommand": func(map[string]any) string {
			return `{"phrases":[{"format":"file","fileName":"tone600"}],"hangup":true}`
		},
		"callEvent": func(map[string]any) string { return `{"action":"drop"}` },
	}.answer, rigOptions{})
	r.must(http.MethodPut, "/promptfile/tone600.wav", toneWAV(600, time.Second))
	bob := r.phone("bob", 1800)
	rep := r.must(http.MethodPost, "/tenant.example.com/placeivrcall", map[string]any{
		"destAddr": bob.URI(), "sessionReferenceId": "ref-1", "callRecording": true, "filename": "rec-ref1",
	})
	sessionID := rep.str("sessionId")
	if sessionID == "" {
		t.Fatalf("placeivrcall: %s", rep.raw)
	}
	cb, err := bob.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.WaitHeard(ctx, 600, 0.5); err != nil {
		t.Fatalf("B does not hear the prompt: %v", err)
	}
	if reason, err := cb.WaitEnded(ctx); err != nil || reason != mediaservertest.EndRemoteBye {
		t.Fatalf("B ended with %v, %v", reason, err)
	}
	ready := r.app.wait(ctx, "recordingReady", 0).fields(t)
	inOrder(t, r.app.Names(), "callAnswered", "getIvrCommand", "callEvent:calledPartyDrop", "sessionCompleted", "recordingReady")
	for _, h := range r.app.Hooks() {
		if m := h.fields(t); m["sessionId"] != sessionID || m["sessionReferenceId"] != "ref-1" {
			t.Errorf("%s: sessionId %v, sessionReferenceId %v", h.name, m["sessionId"], m["sessionReferenceId"])
		}
	}
	name := str(ready, "filename")
	if !strings.HasPrefix(name, "rec-ref1") {
		t.Fatalf("recordingReady filename %q", name)
	}
	for _, path := range []string{"/promptfile/rec-ref1", "/tenant.example.com/promptfile/" + name} {
		got := r.do(http.MethodGet, path, nil)
		if got.status != http.StatusOK || got.header.Get("Content-Type") != "audio/wav" {
			t.Fatalf("GET %s: %d %s", path, got.status, got.header.Get("Content-Type"))
		}
		w, err := mediaservertest.DecodeWAV(got.raw)
		if err != nil || len(w.Channels) == 0 || len(w.Channels[0]) < 4000 {
			t.Fatalf("GET %s: not a recording: %v", path, err)
		}
	}
	r.must(http.MethodDelete, "/promptfile/"+name, nil)
	if got := r.do(http.MethodGet, "/promptfile/"+name, nil); got.status != http.StatusNotFound || got.str("error") != "notFound" {
		t.Errorf("GET after DELETE: %d %s", got.status, got.raw)
	}
	r.app.checkHooks()
}

// TestE2EFallbacks: a failing newCall rejects the call (the server's log
// names the session and says why); a garbage getIvrCommand hangs the IVR
// up and an unknown action drops the caller; then a normal call works.
func TestE2EFallbacks(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	r := newRig(t, func(_ *http.Request, name string, body []byte) (int, string) {
		user := ""
		if i := bytes.Index(body, []byte(`"user":"`)); i >= 0 {
			user = string(body[i+8 : i+8+bytes.IndexByte(body[i+8:], '"')])
		}
		switch {
		case name == "newCall" && user == "alice":
			return 500, `{"error":"boom"}`
		case name == "newCall":
			return 200, `{"action":"ivr"}`
		case name == "getIvrCommand":
			return 200, `this is not JSON`
		case name == "callEvent":
			return 200, `{"action":"bogus"}`
		}
		return 200, `{}`
	}, rigOptions{})
	r.app.strict = false
	alice := r.phone("alice", 440)
	_, err := alice.Dial(ctx, r.uri("ivr"), mediaservertest.DialOptions{})
	var se *mediaservertest.StatusError
	if !errors.As(err, &se) || se.Code != 480 {
		t.Fatalf("call with a failing newCall: %v, want 480", err)
	}
	nc := r.app.wait(ctx, "newCall", 0).fields(t)
	logs := r.logs.String()
	var line string
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, "callback failed; using the fallback") && strings.Contains(l, "callback=newCall") {
			line = l
		}
	}
	if !strings.Contains(line, "sessionId="+str(nc, "sessionId")) || !strings.Contains(line, r.app.URL()+"/newCall") || !strings.Contains(line, "status 500") {
		t.Errorf("the server's log line for the failed newCall does not name the session, URL and status:\n%s", line)
	}
	// alice's sessionCompleted is delivered from the adapter's queue
	// (decision 16), so it may come after bob's newCall unless bob waits.
	r.app.wait(ctx, "sessionCompleted", 0)

	bob := r.phone("bob", 1800)
	cb, err := bob.Dial(ctx, r.uri("ivr"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reason, err := cb.WaitEnded(ctx); err != nil || reason != mediaservertest.EndRemoteBye {
		t.Fatalf("bob ended with %v, %v", reason, err)
	}
	r.app.wait(ctx, "sessionCompleted", 1)
	inOrder(t, r.app.Names(), "newCall", "sessionCompleted", "newCall", "callAnswered", "getIvrCommand", "callEvent:calledPartyDrop", "sessionCompleted")
	if logs := r.logs.String(); !strings.Contains(logs, "unknown action") || !strings.Contains(logs, "callback=getIvrCommand") {
		t.Errorf("no log of the bad getIvrCommand and callEvent answers:\n%s", logs)
	}
	r.app.checkHooks()
}
