package mediaserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestDTMFOneSourcePerLeg checks decision 14 end to end: once a leg has
// signalled a digit one way (RFC 4733 or SIP INFO), digits that arrive
// another way on that leg are ignored, and so are in-band tones (echoes
// of signalled digits), even with in-band detection on. An IVR collecting
// two digits gets the two sent the leg's way, with the others in between.
func TestDTMFOneSourcePerLeg(t *testing.T) {
	type step struct {
		digit string
		mode  mediaservertest.DTMFMode
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  string
	}{
		{"rfc4733 first", []step{
			{"1", mediaservertest.DTMFRFC4733}, {"2", mediaservertest.DTMFInfo},
			{"3", mediaservertest.DTMFInband}, {"4", mediaservertest.DTMFRFC4733},
		}, "14"},
		{"info first", []step{
			{"2", mediaservertest.DTMFInfo}, {"5", mediaservertest.DTMFRFC4733},
			{"3", mediaservertest.DTMFInband}, {"6", mediaservertest.DTMFInfo},
		}, "26"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			results := make(chan mediaserver.DtmfParams, 4)
			h := mediaserver.HandlerFuncs{
				NewCallFunc: func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
					return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
				},
				GetIvrCommandFunc: func(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
					if d := req.DtmfParams; d != nil {
						results <- *d
						return mediaserver.IvrCommand{}, nil // idle: the caller hangs up
					}
					return mediaserver.IvrCommand{Dtmf: &mediaserver.DtmfCommand{MaxDigits: 2, Timeout: 30, InterDigitTimeout: 30}}, nil
				},
				CallEventFunc: func(context.Context, *mediaserver.CallEventRequest) (mediaserver.Action, error) {
					return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
				},
			}
			srv := startServer(t, h, func(c *mediaserver.Config) { c.InbandDTMF = true })
			caller := newPhone(t, "alice", 0)
			call, err := caller.Dial(ctx, serverURI(srv, "ivr"), mediaservertest.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Let the IVR's first command start before the first digit.
			time.Sleep(300 * time.Millisecond)
			for _, s := range tc.steps {
				if err := call.SendDigits(ctx, s.digit, s.mode); err != nil {
					select {
					case d := <-results:
						t.Fatalf("sending %s: %v; the IVR had already collected %+v, want {%s maxDigits}", s.digit, err, d, tc.want)
					default:
						t.Fatalf("sending %s: %v", s.digit, err)
					}
				}
				time.Sleep(200 * time.Millisecond) // each press is over before the next way is tried
			}
			select {
			case d := <-results:
				if d.DtmfMatch != tc.want || d.Reason != "maxDigits" {
					t.Fatalf("dtmfParams %+v, want {%s maxDigits}", d, tc.want)
				}
			case <-ctx.Done():
				t.Fatal("no getIvrCommand with the collected digits")
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
