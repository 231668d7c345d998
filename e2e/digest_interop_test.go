package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/internal/interop"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestInteropBaresipDigest: baresip, a phone nobody here wrote, calls the
// binary with inbound digest authentication on its defaults. It must get
// through with its password, be forwarded to a test phone, and be heard
// there; with a wrong password it gets no call at all. (With a SHA-256
// challenge beside the MD5 one, in either order, baresip 1.0 ends the call
// with "Function not implemented": hence MD5 alone by default.)
func TestInteropBaresipDigest(t *testing.T) {
	ctx, dir := interopSetup(t, "baresip")
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:Alice-pw-7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	support := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "support", ToneHz: uasHz})
	var mu sync.Mutex
	newCalls := 0
	calls := func() int { mu.Lock(); defer mu.Unlock(); return newCalls }
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/newCall") {
			var m map[string]any
			if b, err := io.ReadAll(r.Body); err != nil || json.Unmarshal(b, &m) != nil || m["sessionId"] == nil {
				t.Errorf("newCall body: %v %v", err, m)
			}
			mu.Lock()
			newCalls++
			mu.Unlock()
			_, _ = io.WriteString(w, `{"action":"call","destAddr":"`+support.URI()+`"}`)
			return
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(hook.Close)
	ms := startMediaserver(t, dir, hook.URL, "-auth-users", users, "-auth-realm", "e2e")

	for _, tc := range []struct {
		name, pass string
		ok         bool
	}{{"wrong password", "nope", false}, {"right password", "Alice-pw-7", true}} {
		t.Run(tc.name, func(t *testing.T) {
			alice := interop.StartBaresip(ctx, t, interop.Baresip{
				User: "alice", Dir: filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")), ToneHz: aliceHz, AuthPass: tc.pass,
				SIPPort: aliceSIPPort, CtrlPort: aliceCtrlPort, RTPMin: aliceRTPMin, RTPMax: aliceRTPMax,
			})
			defer alice.Quit(10 * time.Second)
			if _, err := alice.Ctrl.Command(ctx, "dial", "sip:support@"+ms.sipAddr); err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				if _, err := alice.Ctrl.WaitEvent(ctx, "CALL_CLOSED", ""); err != nil {
					t.Fatalf("alice: %v", err)
				}
				if calls() != 0 {
					t.Fatalf("a call with a wrong password reached the application")
				}
				return
			}
			for _, ev := range []string{"CALL_ESTABLISHED", "CALL_RTPESTAB"} {
				if _, err := alice.Ctrl.WaitEvent(ctx, ev, ""); err != nil {
					t.Fatalf("alice: %v (events %v)", err, alice.Ctrl.Events())
				}
			}
			in, err := support.Incoming(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := in.WaitHeard(ctx, aliceHz, 0.5); err != nil {
				t.Errorf("support does not hear baresip: %v", err)
			}
			if _, err := alice.Ctrl.Command(ctx, "hangup", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := in.WaitEnded(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	if n := calls(); n != 1 {
		t.Errorf("%d newCall callbacks, want 1", n)
	}
	ms.shutdown(t)
}
