package mediaserver_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestMaxSessions: with MaxSessions 2, two IVR calls run; a third INVITE
// gets 503 with Retry-After (Config.RetryAfter) before any media port is
// bound, PlaceIvrCall fails with ErrMaxSessions, the refusals are counted,
// and the calls in progress are untouched. Once one of them ends, a new
// call is taken again.
func TestMaxSessions(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	h := newRecorder()
	h.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
	}
	h.GetIvrCommandFunc = func(context.Context, *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		return mediaserver.IvrCommand{
			Phrases: []mediaserver.Phrase{file("greet")},
			Dtmf:    &mediaserver.DtmfCommand{MaxDigits: 1, Timeout: 60},
		}, nil
	}
	h.CallEventFunc = func(context.Context, *mediaserver.CallEventRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
	}
	srv := startServer(t, h, func(c *mediaserver.Config) {
		c.MaxSessions = 2
		c.RetryAfter = 7 * time.Second
	})
	putPrompt(t, srv, "greet.wav", toneWAV(700, 3*time.Second))

	dial := func(user string) *mediaservertest.Call {
		t.Helper()
		c, err := newPhone(t, user, 0).Dial(ctx, serverURI(srv, "ivr"), mediaservertest.DialOptions{})
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if err := c.WaitHeard(ctx, 700, 0.5); err != nil {
			t.Fatalf("%s does not hear the IVR: %v", user, err)
		}
		return c
	}
	first := dial("first")
	second := dial("second")

	_, err := newPhone(t, "third", 0).Dial(ctx, serverURI(srv, "ivr"), mediaservertest.DialOptions{})
	var se *mediaservertest.StatusError
	if !errors.As(err, &se) || se.Code != 503 {
		t.Fatalf("third call: %v, want 503", err)
	}
	codes, res := rawSIPFinal(t, srv, inviteWith("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 30000 RTP/AVP 0\n"))
	if len(codes) == 0 || codes[len(codes)-1] != 503 || !strings.Contains(strings.ToLower(res), "\r\nretry-after: 7") {
		t.Fatalf("raw INVITE at capacity got %v:\n%s\nwant 503 with Retry-After: 7", codes, res)
	}
	if _, err := srv.PlaceIvrCall(ctx, mediaserver.PlaceIvrCallRequest{DestAddr: "sip:nobody@127.0.0.1:9"}); !errors.Is(err, mediaserver.ErrMaxSessions) {
		t.Fatalf("PlaceIvrCall at capacity: %v, want ErrMaxSessions", err)
	}
	st := srv.Stats()
	if st.AtCapacity != 2 || st.Sessions != 2 || st.Media.Endpoints != 2 {
		t.Fatalf("stats at capacity: refused %d, sessions %d, endpoints %d; want 2, 2, 2", st.AtCapacity, st.Sessions, st.Media.Endpoints)
	}
	if err := second.WaitHeard(ctx, 700, 0.5); err != nil {
		t.Fatalf("a call in progress lost its audio: %v", err)
	}

	if err := first.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitSessions(ctx, t, srv, 1)
	fourth := dial("fourth")
	_ = fourth.Hangup(ctx)
	_ = second.Hangup(ctx)
	waitSessions(ctx, t, srv, 0)
}
