package mediaservertest

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Tones of the parties, away from DTMF frequencies and each other's
// harmonics (INTEROP.md section 3).
const (
	aliceHz = 600
	bobHz   = 1800
)

// testCtx returns a context for one test: generous, for a loaded 2-core
// machine running -race. Waits in tests end on a condition, never a sleep.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect has a dial b and returns both ends of the answered call.
func connect(t *testing.T, a, b *Phone, opts DialOptions) (*Call, *Call) {
	t.Helper()
	ctx := testCtx(t)
	ca, err := a.Dial(ctx, b.URI(), opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatalf("Incoming: %v", err)
	}
	select {
	case <-cb.Answered():
	default:
		t.Fatalf("Incoming returned an unanswered call: %v", cb.EndReason())
	}
	return ca, cb
}

func alice(t *testing.T, cfg PhoneConfig) *Phone {
	cfg.User, cfg.ToneHz = "alice", aliceHz
	return NewPhone(t, cfg)
}

func bob(t *testing.T, cfg PhoneConfig) *Phone {
	cfg.User, cfg.ToneHz = "bob", bobHz
	return NewPhone(t, cfg)
}

// hearEachOther asserts two-way audio, and that nobody hears their own tone.
func hearEachOther(t *testing.T, ca, cb *Call) {
	t.Helper()
	ctx := testCtx(t)
	if err := ca.WaitHeard(ctx, bobHz, 0.5); err != nil {
		t.Error(err)
	}
	if err := cb.WaitHeard(ctx, aliceHz, 0.5); err != nil {
		t.Error(err)
	}
	if s := ca.Heard().Last(time.Second).Share(aliceHz); s > 0.05 {
		t.Errorf("alice hears her own tone: share %.2f", s)
	}
}

func TestCallHangup(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{Headers: map[string]string{"X-Test": "hello"}})
	hearEachOther(t, ca, cb)
	if got := cb.Header("X-Test"); got != "hello" {
		t.Errorf("B got X-Test %q", got)
	}
	if ca.Codec() != PCMU || cb.Codec() != PCMU || ca.TelephoneEventPT() != 101 {
		t.Errorf("negotiated %v/%v, telephone-event %d; want PCMU, 101", ca.Codec(), cb.Codec(), ca.TelephoneEventPT())
	}
	if f := ca.Heard().Last(time.Second).DominantFrequency(); f < bobHz-10 || f > bobHz+10 {
		t.Errorf("alice's dominant frequency %.0f, want %d", f, bobHz)
	}
	st := ca.Stats()
	if st.PacketsReceived == 0 || st.PacketsSent == 0 || len(st.PayloadTypes) != 1 || st.PayloadTypes[0] != 0 ||
		st.SSRCChanges != 0 || st.RemoteRTP != cb.Stats().LocalRTP {
		t.Errorf("alice's stats: %+v", st)
	}

	ctx := testCtx(t)
	if err := ca.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	if r, err := cb.WaitEnded(ctx); err != nil || r != EndRemoteBye {
		t.Errorf("bob's call ended %v, %v; want remote-bye", r, err)
	}
	if r := ca.EndReason(); r != EndLocalBye {
		t.Errorf("alice's call ended %v, want local-bye", r)
	}
	if err := ca.Hangup(ctx); !errors.Is(err, ErrCallEnded) {
		t.Errorf("second Hangup: %v, want ErrCallEnded", err)
	}
	if err := cb.WaitSilence(ctx, 200*time.Millisecond); err != nil {
		t.Error(err)
	}
}

func TestCallRFC4733Digits(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	ctx := testCtx(t)
	if err := ca.SendDigits(ctx, "123#", DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	if err := ca.SendDigits(ctx, "1a", DTMFRFC4733); err != nil { // the same digit again is a new event
		t.Fatal(err)
	}
	got, err := cb.WaitDigits(ctx, 6, DTMFRFC4733)
	if err != nil || got != "123#1A" {
		t.Errorf("bob received %q, %v; want 123#1A", got, err)
	}
	if got := cb.ReceivedInfoDigits(); got != "" {
		t.Errorf("bob got INFO digits %q", got)
	}
	if err := ca.SendDigits(ctx, "12x", DTMFRFC4733); !errors.Is(err, ErrBadDigit) {
		t.Errorf("bad digit: err = %v", err)
	}
}

func TestCallInfoDigits(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	ctx := testCtx(t)
	if err := ca.SendDigits(ctx, "*0#", DTMFInfo); err != nil {
		t.Fatal(err)
	}
	if err := cb.SendDigits(ctx, "9", DTMFInfo); err != nil { // the callee's INFO uses the other dialog role
		t.Fatal(err)
	}
	if got := cb.ReceivedInfoDigits(); got != "*0#" {
		t.Errorf("bob's INFO digits %q, want *0#", got)
	}
	if got, err := ca.WaitDigits(ctx, 1, DTMFInfo); err != nil || got != "9" {
		t.Errorf("alice's INFO digits %q, %v", got, err)
	}
	if got := cb.ReceivedDigits(); got != "" {
		t.Errorf("bob got RFC 4733 digits %q", got)
	}
}

func TestCallInbandDigits(t *testing.T) {
	a := alice(t, PhoneConfig{DisableTelephoneEvent: true})
	b := bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	ctx := testCtx(t)
	if ca.TelephoneEventPT() != -1 {
		t.Errorf("telephone-event %d negotiated, want none", ca.TelephoneEventPT())
	}
	if err := ca.SendDigits(ctx, "1", DTMFRFC4733); !errors.Is(err, ErrNoTelephoneEvent) {
		t.Errorf("RFC 4733 without telephone-event: err = %v", err)
	}
	start := time.Now()
	if err := ca.SendDigits(ctx, "159#", DTMFInband); err != nil {
		t.Fatal(err)
	}
	if got, err := cb.WaitDigits(ctx, 4, DTMFInband); err != nil || got != "159#" {
		t.Errorf("bob detected %q, %v; want 159#", got, err)
	}
	if got := cb.HeardSince(start).Digits(); got != "159#" {
		t.Errorf("HeardSince(start).Digits() = %q", got)
	}
}

func TestCallHoldResume(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	hearEachOther(t, ca, cb)
	ctx := testCtx(t)

	if err := ca.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ca.LocalSDP(), "a=sendonly") || !strings.Contains(cb.LocalSDP(), "a=recvonly") {
		t.Errorf("hold SDPs:\n%s\n%s", ca.LocalSDP(), cb.LocalSDP())
	}
	if err := cb.WaitSilence(ctx, 300*time.Millisecond); err != nil {
		t.Errorf("alice still sends on hold: %v", err)
	}
	if err := ca.WaitSilence(ctx, 300*time.Millisecond); err != nil {
		t.Errorf("bob still sends to a sendonly offer: %v", err)
	}
	if err := ca.SendDigits(ctx, "1", DTMFRFC4733); !errors.Is(err, ErrNotSending) {
		t.Errorf("digits on hold: err = %v", err)
	}

	if err := ca.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cb.LocalSDP(), "a=sendrecv") {
		t.Errorf("bob's answer to resume:\n%s", cb.LocalSDP())
	}
	hearEachOther(t, ca, cb)

	// The callee can hold too (a re-INVITE in the other dialog role).
	if err := cb.Reinvite(ctx, ReinviteOptions{Direction: Inactive}); err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitSilence(ctx, 300*time.Millisecond); err != nil {
		t.Error(err)
	}
	if err := cb.WaitSilence(ctx, 300*time.Millisecond); err != nil {
		t.Error(err)
	}
}

func TestCallReinviteNewAddress(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	ctx := testCtx(t)
	old := ca.Stats().LocalRTP
	addr := "127.0.0.2:0"
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}); err != nil {
		addr = "127.0.0.1:0" // no 127.0.0.2 here: a new port only
	} else {
		_ = c.Close()
	}
	if err := ca.Reinvite(ctx, ReinviteOptions{RTPAddr: addr}); err != nil {
		t.Fatal(err)
	}
	moved := ca.Stats().LocalRTP
	if moved == old || cb.Stats().RemoteRTP != moved {
		t.Errorf("alice moved %v -> %v; bob sends to %v", old, moved, cb.Stats().RemoteRTP)
	}
	hearEachOther(t, ca, cb)
}

func TestCallRejected(t *testing.T) {
	for _, code := range []int{486, 603} {
		a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{AnswerCode: code})
		ctx := testCtx(t)
		_, err := a.Dial(ctx, b.URI(), DialOptions{})
		var se *StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Fatalf("Dial: %v, want StatusError %d", err, code)
		}
		cb, err := b.Incoming(ctx)
		if err != nil {
			t.Fatal(err)
		}
		<-cb.Ended()
		if cb.EndReason() != EndRejected || cb.StatusCode() != code {
			t.Errorf("bob's call: %v %d", cb.EndReason(), cb.StatusCode())
		}
	}
}

func TestCallNoCommonCodec(t *testing.T) {
	a := alice(t, PhoneConfig{Codecs: []Codec{PCMA}})
	b := bob(t, PhoneConfig{Codecs: []Codec{PCMU}})
	_, err := a.Dial(testCtx(t), b.URI(), DialOptions{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 488 {
		t.Errorf("Dial: %v, want 488", err)
	}
}

func TestCallCancelWhileRinging(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{RingFor: time.Hour})
	ctx := testCtx(t)
	ca, err := a.DialAsync(ctx, b.URI(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ca.Ringing():
	case <-ctx.Done():
		t.Fatal("no 180")
	}
	if err := ca.Hangup(ctx); err != nil {
		t.Fatalf("Hangup (CANCEL): %v", err)
	}
	if ca.EndReason() != EndLocalCancel || ca.StatusCode() != 487 {
		t.Errorf("alice's call: %v %d, want local-cancel 487", ca.EndReason(), ca.StatusCode())
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := cb.WaitEnded(ctx); r != EndRemoteCancel {
		t.Errorf("bob's call: %v, want remote-cancel", r)
	}
	select {
	case <-cb.Answered():
		t.Error("bob's cancelled call was answered")
	default:
	}
}

func TestDialContextCancelsInvite(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{RingFor: time.Hour})
	ctx, cancel := context.WithCancel(testCtx(t))
	ca, err := a.DialAsync(ctx, b.URI(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-ca.Ringing()
	cancel()
	if r, err := ca.WaitEnded(testCtx(t)); err != nil || r != EndLocalCancel || !errors.Is(ca.Err(), context.Canceled) {
		t.Errorf("ended %v, %v, Err %v", r, err, ca.Err())
	}
}

func TestCallEarlyMedia(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{EarlyMedia: true, RingFor: time.Hour})
	ctx := testCtx(t)
	ca, err := a.DialAsync(ctx, b.URI(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, bobHz, 0.5); err != nil {
		t.Fatalf("no early media: %v", err)
	}
	select {
	case <-ca.Answered():
		t.Error("answered during early media")
	default:
	}
	if ca.RemoteSDP() == "" || ca.Codec() != PCMU {
		t.Errorf("early SDP not applied: codec %q", ca.Codec())
	}
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCallPCMA30ms(t *testing.T) {
	a := alice(t, PhoneConfig{Codecs: []Codec{PCMA, PCMU}, Ptime: 30 * time.Millisecond})
	b := bob(t, PhoneConfig{Codecs: []Codec{PCMU, PCMA}})
	ca, cb := connect(t, a, b, DialOptions{})
	// Bob answers with his first preference that alice offered: PCMU. So
	// offer PCMA only to force it.
	if cb.Codec() != PCMU {
		t.Errorf("bob chose %v, want his preference PCMU", cb.Codec())
	}
	ctx := testCtx(t)
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}

	a2 := alice(t, PhoneConfig{Codecs: []Codec{PCMA}, Ptime: 30 * time.Millisecond})
	ca, cb = connect(t, a2, b, DialOptions{})
	if ca.Codec() != PCMA || cb.Codec() != PCMA || !strings.Contains(ca.LocalSDP(), "a=ptime:30") {
		t.Errorf("codec %v/%v, SDP\n%s", ca.Codec(), cb.Codec(), ca.LocalSDP())
	}
	hearEachOther(t, ca, cb)
	heard := cb.Heard()
	for i := 1; i < len(heard.marks); i++ {
		if n := heard.marks[i].pos - heard.marks[i-1].pos; n != 240 {
			t.Fatalf("bob got a packet of %d samples, want 240 (30 ms)", n)
		}
	}
	if pts := cb.Stats().PayloadTypes; len(pts) != 1 || pts[0] != 8 {
		t.Errorf("bob received payload types %v, want [8]", pts)
	}
}

func TestSendFromOtherPort(t *testing.T) {
	a, b := alice(t, PhoneConfig{SendFromOtherPort: true}), bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	hearEachOther(t, ca, cb) // bob sends to the advertised port, alice hears it there
	sa, sb := ca.Stats(), cb.Stats()
	if sa.SendRTP == sa.LocalRTP {
		t.Fatalf("alice sends from her advertised port %v", sa.LocalRTP)
	}
	if sb.LastSource != sa.SendRTP || sb.RemoteRTP != sa.LocalRTP {
		t.Errorf("bob hears alice from %v (want %v) and sends to %v (want %v)", sb.LastSource, sa.SendRTP, sb.RemoteRTP, sa.LocalRTP)
	}
	if sa.PacketsReceivedOnSendSocket != 0 {
		t.Errorf("bob latched: %d packets on alice's send socket", sa.PacketsReceivedOnSendSocket)
	}
}

func TestLargeInviteOverTCP(t *testing.T) {
	a := alice(t, PhoneConfig{Transport: "tcp", PadInviteTo: 2048})
	b := bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	if n := len(cb.invite.String()); n < 2048 {
		t.Errorf("INVITE of %d bytes, want >= 2048", n)
	}
	if cb.transport != "tcp" || !strings.Contains(cb.Header("Contact"), "transport=tcp") {
		t.Errorf("bob got the INVITE over %s, Contact %q", cb.transport, cb.Header("Contact"))
	}
	hearEachOther(t, ca, cb)
	ctx := testCtx(t)
	if err := cb.SendDigits(ctx, "7", DTMFInfo); err != nil { // bob's requests go over TCP too
		t.Fatal(err)
	}
	if err := cb.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := ca.WaitEnded(ctx); r != EndRemoteBye || ca.ReceivedInfoDigits() != "7" {
		t.Errorf("alice: %v, INFO digits %q", r, ca.ReceivedInfoDigits())
	}
}

func TestLargeInviteOverUDPFails(t *testing.T) {
	a := alice(t, PhoneConfig{PadInviteTo: 2048})
	b := bob(t, PhoneConfig{})
	if _, err := a.Dial(testCtx(t), b.URI(), DialOptions{}); err == nil {
		t.Fatal("a 2 kB INVITE went over UDP; sipgo should refuse it")
	}
}

func TestSetToneAndWAV(t *testing.T) {
	wav := t.TempDir() + "/tone.wav"
	if err := os.WriteFile(wav, EncodeWAV(sine(4000, 700, 0.3)), 0o644); err != nil {
		t.Fatal(err)
	}
	a := NewPhone(t, PhoneConfig{User: "alice", WAV: wav})
	b := bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	ctx := testCtx(t)
	if err := cb.WaitHeard(ctx, 700, 0.5); err != nil {
		t.Error(err)
	}
	ca.SetTone(1000)
	if err := cb.WaitHeard(ctx, 1000, 0.9); err != nil {
		t.Error(err)
	}
	ca.SetTone(0)
	if err := cb.WaitSilence(ctx, 200*time.Millisecond); err != nil {
		t.Error(err)
	}
}

func TestPhoneCloseHangsUp(t *testing.T) {
	a, b := alice(t, PhoneConfig{}), bob(t, PhoneConfig{})
	ca, cb := connect(t, a, b, DialOptions{})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if r := cb.EndReason(); r != EndLocalBye {
		t.Errorf("bob's call after Close: %v, want local-bye", r)
	}
	if r, err := ca.WaitEnded(testCtx(t)); err != nil || r != EndRemoteBye {
		t.Errorf("alice's call: %v, %v", r, err)
	}
	if _, err := b.Incoming(testCtx(t)); !errors.Is(err, ErrPhoneClosed) {
		t.Errorf("Incoming after Close: %v", err)
	}
	if _, err := b.Dial(testCtx(t), a.URI(), DialOptions{}); err == nil {
		t.Error("Dial after Close succeeded")
	}
}

func TestDialUnreachable(t *testing.T) {
	a := alice(t, PhoneConfig{Transport: "tcp"})
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	if _, err := a.Dial(testCtx(t), "sip:nobody@"+addr, DialOptions{}); err == nil {
		t.Error("Dial to a closed TCP port succeeded")
	}
}

func TestDelayedOffer(t *testing.T) {
	a := alice(t, PhoneConfig{})
	b := bob(t, PhoneConfig{Codecs: []Codec{PCMA, PCMU}})
	ca, cb := connect(t, a, b, DialOptions{NoSDP: true})
	if ca.Header("Content-Type") != "" || !strings.Contains(cb.LocalSDP(), "RTP/AVP 8 0 101") {
		t.Errorf("INVITE Content-Type %q; bob's offer in the 200:\n%s", ca.Header("Content-Type"), cb.LocalSDP())
	}
	if ca.Codec() != PCMU || cb.Codec() != PCMU {
		t.Errorf("alice answered bob's PCMA,PCMU offer with %v (bob applied %v), want her preference PCMU", ca.Codec(), cb.Codec())
	}
	hearEachOther(t, ca, cb)

	// A re-INVITE without SDP: bob offers sendrecv in the 200, alice answers
	// sendonly in the ACK, so bob stops sending and alice keeps sending.
	ctx := testCtx(t)
	if err := ca.Reinvite(ctx, ReinviteOptions{NoSDP: true, Direction: SendOnly}); err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitSilence(ctx, 300*time.Millisecond); err != nil {
		t.Error(err)
	}
	if err := cb.WaitHeard(ctx, aliceHz, 0.5); err != nil {
		t.Error(err)
	}
	// From the callee's side of the dialog: alice offers in the 200 and,
	// still wanting to send only, offers sendonly; bob answers recvonly and
	// his preference PCMA in the ACK.
	if err := cb.Reinvite(ctx, ReinviteOptions{NoSDP: true}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, 10*time.Millisecond, func() bool { return ca.Codec() == PCMA }); err != nil {
		t.Errorf("alice did not apply the answer in bob's ACK: codec %v", ca.Codec())
	}
	if !strings.Contains(ca.LocalSDP(), "a=sendonly") || !strings.Contains(cb.LocalSDP(), "a=recvonly") {
		t.Errorf("alice's offer in the 200:\n%s\nbob's answer in the ACK:\n%s", ca.LocalSDP(), cb.LocalSDP())
	}
	if err := ca.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	hearEachOther(t, ca, cb)
}
