package mediaserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// connectAB runs a forward call A → server → B and waits until both hear
// each other.
func connectAB(ctx context.Context, t *testing.T, a, b *mediaservertest.Phone) (ca, cb *mediaservertest.Call, h *recorder) {
	t.Helper()
	h = callTo(b.URI())
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "forward"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err = b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("A does not hear B: %v", err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("B does not hear A: %v", err)
	}
	return ca, cb, h
}

// TestHoldResume: A puts the call on hold (re-INVITE sendonly, answered
// recvonly) and resumes; audio flows both ways again after the resume.
func TestHoldResume(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	ca, cb, _ := connectAB(ctx, t, a, b)
	if err := ca.Hold(ctx); err != nil {
		t.Fatalf("hold: %v", err)
	}
	if err := ca.WaitSilence(ctx, 400*time.Millisecond); err != nil {
		t.Errorf("A on hold still hears B: %v", err)
	}
	if err := ca.Resume(ctx); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("after resume A does not hear B: %v", err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("after resume B does not hear A: %v", err)
	}
}

// TestNewMediaAddress: A moves its RTP to a new port by re-INVITE; B keeps
// hearing A and A hears B on the new port.
func TestNewMediaAddress(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	ca, cb, _ := connectAB(ctx, t, a, b)
	if err := ca.Reinvite(ctx, mediaservertest.ReinviteOptions{RTPAddr: "127.0.0.1:0"}); err != nil {
		t.Fatalf("re-INVITE: %v", err)
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("A does not hear B on its new port: %v", err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("B does not hear A after the move: %v", err)
	}
}

// TestEmptyReinvite: A sends a re-INVITE without SDP; the server offers in
// its 200 and A answers in the ACK; audio keeps flowing.
func TestEmptyReinvite(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	ca, cb, _ := connectAB(ctx, t, a, b)
	if err := ca.Reinvite(ctx, mediaservertest.ReinviteOptions{NoSDP: true}); err != nil {
		t.Fatalf("re-INVITE: %v", err)
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("A does not hear B: %v", err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("B does not hear A: %v", err)
	}
}

// TestDigitsRelayedOnce: RFC 4733 digits sent by A reach B once each.
func TestDigitsRelayedOnce(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	ca, cb, _ := connectAB(ctx, t, a, b)
	if err := ca.SendDigits(ctx, "159#", mediaservertest.DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	got, err := cb.WaitDigits(ctx, 4, mediaservertest.DTMFRFC4733)
	if err != nil {
		t.Fatalf("B got %q: %v", got, err)
	}
	if got != "159#" {
		t.Fatalf("B got digits %q, want 159#", got)
	}
	// Nothing more arrives: each digit was delivered once.
	if err := cb.WaitSilence(ctx, 300*time.Millisecond); err != nil {
		t.Log(err)
	}
	if d := cb.ReceivedDigits(); d != "159#" {
		t.Fatalf("B got digits %q after a pause, want 159#", d)
	}
}

// TestPCMA30ms: a PCMA phone that sends 30 ms packets is heard correctly by
// a PCMU phone (transcoded relay keeps the packets whole).
func TestPCMA30ms(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440, func(c *mediaservertest.PhoneConfig) {
		c.Codecs = []mediaservertest.Codec{mediaservertest.PCMA}
		c.Ptime = 30 * time.Millisecond
	})
	b := newPhone(t, "bob", 1000, func(c *mediaservertest.PhoneConfig) {
		c.Codecs = []mediaservertest.Codec{mediaservertest.PCMU}
	})
	connectAB(ctx, t, a, b)
}

// TestLatching: a phone whose SDP names one port but that sends from another
// is heard (symmetric RTP, decision 4), and hears the other party.
func TestLatching(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440, func(c *mediaservertest.PhoneConfig) { c.SendFromOtherPort = true })
	b := newPhone(t, "bob", 1000)
	connectAB(ctx, t, a, b)
}

// TestBigInviteOverTCP: a 2 kB INVITE over TCP sets up a normal call.
func TestBigInviteOverTCP(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440, func(c *mediaservertest.PhoneConfig) {
		c.Transport = "tcp"
		c.PadInviteTo = 2048
	})
	b := newPhone(t, "bob", 1000)
	ca, _, _ := connectAB(ctx, t, a, b)
	if n := len(ca.LocalSDP()); n < 1500 {
		t.Fatalf("INVITE SDP only %d bytes; padding did not apply", n)
	}
}

// TestMediaTimeout: a leg whose RTP stops while its dialog stays up is hung
// up with BYE after the media timeout; the other party gets a callEvent
// with reason mediaTimeout. A leg on hold that sends nothing is not.
func TestMediaTimeout(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	h := callTo(b.URI())
	srv := startServer(t, h, func(c *mediaserver.Config) { c.MediaTimeout = 2 * time.Second })
	ca, err := a.Dial(ctx, serverURI(srv, "forward"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatal(err)
	}
	// B holds A: B sends nothing on hold, which must not time out.
	if err := cb.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	held := time.Now()
	ca.SetMuted(true) // A's stream dies; its dialog stays up
	r, err := ca.WaitEnded(ctx)
	if err != nil || r != mediaservertest.EndRemoteBye {
		t.Fatalf("A ended with %v, %v; want BYE from the server", r, err)
	}
	if el := time.Since(held); el < 2*time.Second {
		t.Errorf("A hung up after %v, before the 2 s media timeout", el)
	}
	h.wait(ctx, t, "sessionCompleted")
	wantEvents(t, h.Events(), "newCall", "callAnswered", "callEvent:callingPartyDrop:mediaTimeout", "sessionCompleted")
	if r, err := cb.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Errorf("B (on hold, silent) ended with %v, %v; want the BYE after the drop answer", r, err)
	}
}
