package mediaserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestTraceAutoAttendant renders the auto-attendant flow of a real session
// as a Mermaid sequence diagram and checks its structure and that its
// callbacks come in the order of API.md §8.1.
func TestTraceAutoAttendant(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	support := newPhone(t, "support", 1000)
	caller := newPhone(t, "alice", 0)
	h := newAttendant(support.URI())
	var sessionID string
	inner := h.NewCallFunc
	h.NewCallFunc = func(ctx2 context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		sessionID = req.SessionID
		return inner(ctx2, req)
	}
	srv := startServer(t, h)
	putPrompt(t, srv, "greet.wav", toneWAV(700, time.Second))
	putPrompt(t, srv, "bye.wav", toneWAV(500, 300*time.Millisecond))
	call, err := caller.Dial(ctx, serverURI(srv, "attendant"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitHeard(ctx, 700, 0.5); err != nil {
		t.Fatal(err)
	}
	if err := call.SendDigits(ctx, "2", mediaservertest.DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	in, err := support.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := in.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "sessionCompleted")
	waitSessions(ctx, t, srv, 0)
	d, ok := srv.Trace(sessionID)
	if !ok {
		t.Fatal("no trace for the completed session")
	}
	t.Log("\n" + d)
	lines := strings.Split(strings.TrimSpace(d), "\n")
	if lines[0] != "sequenceDiagram" {
		t.Fatalf("not a sequence diagram: %q", lines[0])
	}
	var callbacks []string
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "participant "):
			if f := strings.Fields(l); len(f) < 4 || f[2] != "as" {
				t.Errorf("bad participant line %q", l)
			}
		case strings.HasPrefix(l, "Note over "):
		case strings.Contains(l, "->>"):
			from, rest, _ := strings.Cut(l, "->>")
			to, msg, ok := strings.Cut(rest, ": ")
			bare := strings.NewReplacer("#59;", "", "#35;", "").Replace(msg)
			if from == "" || to == "" || !ok || msg == "" || strings.ContainsAny(bare, ";#") {
				t.Errorf("bad message line %q", l)
			}
			if from == "MS" && to == "App" {
				callbacks = append(callbacks, strings.Fields(msg)[1])
			}
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	want := []string{"/newCall", "/callAnswered", "/getIvrCommand", "/getIvrCommand", "/callEvent", "/callAnswered", "/callEvent", "/sessionCompleted"}
	if strings.Join(callbacks, " ") != strings.Join(want, " ") {
		t.Errorf("callbacks in the diagram:\n got  %v\n want %v", callbacks, want)
	}
	for _, s := range []string{"SIP INVITE", "SIP 200 OK", "SIP ACK", "SIP BYE", "media bridged", "connected to the IVR"} {
		if !strings.Contains(d, s) {
			t.Errorf("diagram lacks %q", s)
		}
	}
	mediaserver.CheckMermaidForTest(t, d)
}
