package flows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// Tones of the flows (INTEROP.md §3: away from the DTMF frequencies and
// from each other's harmonics). Phones send one each; prompts are tones so
// that every check is by content.
const (
	HzA, HzB, HzC = 440, 1000, 1800 // userA (alice), userB, userC
	HzMonitor     = 1800
	HzGreeting    = 600 // the attendant's greeting
	HzConnecting  = 500 // "you will be connected"
	HzRetry       = 350 // "sorry, I did not get that"
	HzGoodbye     = 2400
	HzHoldMusic   = 600
)

// Attendant is the auto-attendant of the examples document as a script:
// greet, collect one digit, 1 → Sales, 2 → Support, anything else is asked
// again; the third wrong digit hangs up. Its prompts are the files
// "greeting", "connecting", "retry" and "goodbye" (AttendantPrompts).
type Attendant struct {
	Sales, Support string

	mu    sync.Mutex // guards tries, dest, dtmf
	tries int
	dest  string
	dtmf  []mediaserver.DtmfParams
}

// AttendantPrompts are the attendant's prompt files: tones.
func AttendantPrompts() map[string][]byte {
	return map[string][]byte{
		"greeting.wav":   ToneWAV(HzGreeting, 1500*time.Millisecond),
		"connecting.wav": ToneWAV(HzConnecting, 700*time.Millisecond),
		"retry.wav":      ToneWAV(HzRetry, 700*time.Millisecond),
		"goodbye.wav":    ToneWAV(HzGoodbye, 700*time.Millisecond),
	}
}

func file(names ...string) []mediaserver.Phrase {
	var out []mediaserver.Phrase
	for _, n := range names {
		out = append(out, mediaserver.Phrase{Format: "file", FileName: n})
	}
	return out
}

// Script returns the attendant's answers.
func (a *Attendant) Script() mediaserver.HandlerFuncs {
	return mediaserver.HandlerFuncs{
		NewCallFunc: func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
			return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
		},
		GetIvrCommandFunc: func(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			ask := mediaserver.IvrCommand{Dtmf: &mediaserver.DtmfCommand{MaxDigits: 1}, Phrases: file("greeting")}
			d := req.DtmfParams
			if d == nil {
				return ask, nil
			}
			a.dtmf = append(a.dtmf, *d)
			switch d.DtmfMatch {
			case "1", "2":
				a.dest = map[string]string{"1": a.Sales, "2": a.Support}[d.DtmfMatch]
				return mediaserver.IvrCommand{Phrases: file("connecting"), Hangup: true}, nil
			}
			if a.tries++; a.tries >= 3 {
				return mediaserver.IvrCommand{Phrases: file("goodbye"), Hangup: true}, nil
			}
			ask.Phrases = file("retry", "greeting")
			return ask, nil
		},
		CallEventFunc: func(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			if req.Event == mediaserver.EventCalledPartyDrop && a.dest != "" {
				dest := a.dest
				a.dest = ""
				return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: dest}, nil
			}
			return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
		},
	}
}

// Digits returns the dtmfParams the attendant got.
func (a *Attendant) Digits() []mediaserver.DtmfParams {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]mediaserver.DtmfParams(nil), a.dtmf...)
}

func putPrompts(ctx context.Context, t testing.TB, r *Rig, prompts map[string][]byte) {
	t.Helper()
	for name, data := range prompts {
		ok(t, r.Ctl.PutPrompt(ctx, name, data), "upload "+name)
	}
}

// runAttendant: alice calls, hears the greeting, presses 2, hears
// "connecting" and then support; support hears her; she hangs up and
// support is hung up.
func runAttendant(ctx context.Context, t testing.TB, r *Rig) {
	support := r.Phone(t, "support", HzB)
	alice := r.Phone(t, "alice", HzA)
	a := &Attendant{Sales: r.URI("nobody"), Support: support.URI()}
	r.App.SetScript(a.Script())
	putPrompts(ctx, t, r, AttendantPrompts())

	call := try(alice.Dial(ctx, r.URI("attendant"), mediaservertest.DialOptions{})).must(t)
	hears(ctx, t, "alice", call, HzGreeting, 0.5)
	ok(t, call.SendDigits(ctx, "2", mediaservertest.DTMFRFC4733), "alice presses 2")
	hears(ctx, t, "alice", call, HzConnecting, 0.5)
	in := try(support.Incoming(ctx)).must(t)
	hears(ctx, t, "alice", call, HzB, 0.5)
	hears(ctx, t, "support", in, HzA, 0.5)
	ok(t, call.Hangup(ctx), "alice hangs up")
	endsByBye(ctx, t, "support", in)
	try(r.App.Wait(ctx, "sessionCompleted", 0)).must(t)
	if d := a.Digits(); len(d) != 1 || d[0].DtmfMatch != "2" || d[0].Reason != "maxDigits" {
		t.Errorf("dtmfParams %+v, want one {2 maxDigits}", d)
	}
}

// runAttendantRetry: alice presses 7, 8 and 9; she is asked again twice,
// then hears goodbye and is hung up.
func runAttendantRetry(ctx context.Context, t testing.TB, r *Rig) {
	alice := r.Phone(t, "alice", HzA)
	a := &Attendant{Sales: r.URI("nobody"), Support: r.URI("nobody")}
	r.App.SetScript(a.Script())
	putPrompts(ctx, t, r, AttendantPrompts())

	call := try(alice.Dial(ctx, r.URI("attendant"), mediaservertest.DialOptions{})).must(t)
	hears(ctx, t, "alice", call, HzGreeting, 0.5)
	for _, digit := range []string{"7", "8"} {
		ok(t, call.SendDigits(ctx, digit, mediaservertest.DTMFRFC4733), "alice presses "+digit)
		hears(ctx, t, "alice", call, HzRetry, 0.5)
		hears(ctx, t, "alice", call, HzGreeting, 0.5)
	}
	ok(t, call.SendDigits(ctx, "9", mediaservertest.DTMFRFC4733), "alice presses 9")
	hears(ctx, t, "alice", call, HzGoodbye, 0.5)
	endsByBye(ctx, t, "alice", call)
	try(r.App.Wait(ctx, "sessionCompleted", 0)).must(t)
	var got []string
	for _, d := range a.Digits() {
		got = append(got, d.DtmfMatch+"/"+d.Reason)
	}
	if len(got) != 3 || got[0] != "7/maxDigits" || got[1] != "8/maxDigits" || got[2] != "9/maxDigits" {
		t.Errorf("dtmfParams %v, want 7, 8, 9 by maxDigits", got)
	}
}
