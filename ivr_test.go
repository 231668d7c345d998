package mediaserver_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// toneWAV returns a WAV file of a tone, built without package media.
func toneWAV(freq float64, d time.Duration) []byte {
	n := int(d.Seconds() * 8000)
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(10000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return mediaservertest.EncodeWAV(pcm)
}

func putPrompt(t *testing.T, srv *mediaserver.Server, name string, data []byte) {
	t.Helper()
	if _, err := srv.PutPrompt(context.Background(), name, bytes.NewReader(data), 0); err != nil {
		t.Fatal(err)
	}
}

func file(name string) mediaserver.Phrase { return mediaserver.Phrase{Format: "file", FileName: name} }

// attendant is the auto-attendant flow of the examples document with tone
// prompts: greet (700 Hz), one digit, 2 → support, with a goodbye phrase
// (500 Hz) before the IVR hangs up.
type attendant struct {
	*recorder
	support string
	mu      sync.Mutex
	dtmf    []mediaserver.DtmfParams
	chosen  bool
}

func newAttendant(support string) *attendant {
	a := &attendant{recorder: newRecorder(), support: support}
	a.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
	}
	a.GetIvrCommandFunc = func(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if d := req.DtmfParams; d != nil {
			a.dtmf = append(a.dtmf, *d)
			if d.DtmfMatch == "2" {
				a.chosen = true
				return mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{file("bye")}, Hangup: true}, nil
			}
		}
		return mediaserver.IvrCommand{Dtmf: &mediaserver.DtmfCommand{MaxDigits: 1}, Phrases: []mediaserver.Phrase{file("greet")}}, nil
	}
	a.CallEventFunc = func(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if req.Event == mediaserver.EventCalledPartyDrop && a.chosen {
			a.chosen = false
			return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: a.support}, nil
		}
		return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
	}
	return a
}

// TestAutoAttendant runs the auto-attendant flow of the examples document
// and checks the callback order of API.md §8.1 and who hears what.
func TestAutoAttendant(t *testing.T) {
	for _, mode := range []struct {
		name string
		dtmf mediaservertest.DTMFMode
		mod  func(*mediaservertest.PhoneConfig)
	}{
		{"rfc4733", mediaservertest.DTMFRFC4733, nil},
		{"sip info", mediaservertest.DTMFInfo, nil},
		{"in-band", mediaservertest.DTMFInband, func(c *mediaservertest.PhoneConfig) { c.DisableTelephoneEvent = true }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			support := newPhone(t, "support", 1000)
			var mods []func(*mediaservertest.PhoneConfig)
			if mode.mod != nil {
				mods = append(mods, mode.mod)
			}
			caller := newPhone(t, "alice", 0, mods...)
			h := newAttendant(support.URI())
			srv := startServer(t, h, func(c *mediaserver.Config) { c.InbandDTMF = true })
			putPrompt(t, srv, "greet.wav", toneWAV(700, 1500*time.Millisecond))
			putPrompt(t, srv, "bye.wav", toneWAV(500, 500*time.Millisecond))

			call, err := caller.Dial(ctx, serverURI(srv, "attendant"), mediaservertest.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := call.WaitHeard(ctx, 700, 0.5); err != nil {
				t.Fatalf("caller does not hear the greeting: %v", err)
			}
			if err := call.SendDigits(ctx, "2", mode.dtmf); err != nil {
				t.Fatal(err)
			}
			if err := call.WaitHeard(ctx, 500, 0.5); err != nil {
				t.Fatalf("caller does not hear the goodbye phrase: %v", err)
			}
			in, err := support.Incoming(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := call.WaitHeard(ctx, 1000, 0.5); err != nil {
				t.Fatalf("caller does not hear support: %v", err)
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := in.WaitEnded(ctx); err != nil {
				t.Fatal(err)
			}
			h.wait(ctx, t, "sessionCompleted")
			wantEvents(t, h.Events(), "newCall", "callAnswered", "getIvrCommand", "getIvrCommand",
				"callEvent:calledPartyDrop:hangup", "callAnswered", "callEvent:callingPartyDrop:hangup", "sessionCompleted")
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.dtmf) != 1 || h.dtmf[0].DtmfMatch != "2" || h.dtmf[0].Reason != "maxDigits" {
				t.Errorf("dtmfParams %+v, want one {2 maxDigits}", h.dtmf)
			}
		})
	}
}

// TestIvrBadPhrases: phrases that cannot play (unknown format, missing
// file, 404, HTML, corrupt WAV) are skipped with a log line; the good
// phrase after them plays and the command completes.
func TestIvrBadPhrases(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>hello</html>"))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(web.Close)
	caller := newPhone(t, "alice", 0)
	h := newRecorder()
	var mu sync.Mutex
	var reasons []string
	h.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
	}
	h.GetIvrCommandFunc = func(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		mu.Lock()
		reasons = append(reasons, req.Reason)
		mu.Unlock()
		if req.Reason != "connected" {
			return mediaserver.IvrCommand{}, nil // idle
		}
		return mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{
			{Format: "googletts"},
			{Format: "telepathy"},
			file("missing"),
			file("corrupt.wav"),
			{Format: "url", URL: web.URL + "/gone.wav"},
			{Format: "url", URL: web.URL + "/page"},
			file("good"),
		}}, nil
	}
	srv := startServer(t, h)
	putPrompt(t, srv, "corrupt.wav", []byte("RIFF\x10\x00\x00\x00WAVEjunkjunkjunk"))
	putPrompt(t, srv, "good.wav", toneWAV(700, time.Second))
	call, err := caller.Dial(ctx, serverURI(srv, "ivr"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitHeard(ctx, 700, 0.5); err != nil {
		t.Fatalf("the good phrase does not play: %v", err)
	}
	for {
		mu.Lock()
		n := len(reasons)
		mu.Unlock()
		if n >= 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no getIvrCommand after the phrases: %v", reasons)
		case <-time.After(20 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if reasons[1] != "commandCompleted" {
		t.Errorf("second getIvrCommand reason %q, want commandCompleted", reasons[1])
	}
}
