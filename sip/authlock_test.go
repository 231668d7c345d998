package sip

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestInboundDigestLockout guesses passwords over SIP: after MaxFailures
// wrong ones the source gets 403 for everything, the right password
// included, until Lockout has passed since its last try; the lock is
// logged once, as a warning.
func TestInboundDigestLockout(t *testing.T) {
	clk := newFakeClock()
	app := newInboundApp(t)
	answerAll(app)
	var logs lockedBuffer
	a := startAgent(t, Config{OnInvite: app.OnInvite,
		Logger:      slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		InboundAuth: &InboundAuth{Realm: "media.test", Users: map[string]string{"alice": "s3cret"}, MaxFailures: 3, Lockout: time.Minute}},
		agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	ruri := "sip:bob@" + p.agentHost()
	ch := inviteAndAck(t, p)
	nc := 0
	try := func(user, pass string) int {
		t.Helper()
		nc++
		return inviteAndAck(t, p, authorize(t, ch, "MD5", ruri, user, pass, nc)).StatusCode
	}
	for i, up := range [][2]string{{"alice", "123456"}, {"root", "s3cret"}} {
		if code := try(up[0], up[1]); code != 403 {
			t.Fatalf("guess %d: %d", i+1, code)
		}
	}
	// Below the limit the right password still works.
	nc++
	d, _ := establish(t, p, app, sdpOffer(30000, "0"), authorize(t, ch, "MD5", ruri, "alice", "s3cret", nc))
	d.req("BYE", "")
	p.expect(200)
	app.rec.expect("end")
	if code := try("alice", "password"); code != 403 { // the third: locked now
		t.Fatalf("third guess: %d", code)
	}
	if code := try("alice", "s3cret"); code != 403 {
		t.Fatalf("right password while locked: %d", code)
	}
	if res := inviteAndAck(t, p); res.StatusCode != 403 || res.GetHeader("WWW-Authenticate") != nil {
		t.Fatalf("no credentials while locked: %d, want 403 without a challenge", res.StatusCode)
	}
	// Trying again does not extend the lock (forged packets could keep a
	// phone out): it lifts a minute after the failure that set it.
	clk.Advance(50 * time.Second)
	if code := try("alice", "s3cret"); code != 403 {
		t.Fatalf("after 50 s: %d", code)
	}
	clk.Advance(10 * time.Second)
	ch = inviteAndAck(t, p)
	if ch.StatusCode != 401 {
		t.Fatalf("after the lockout: %d, want a challenge", ch.StatusCode)
	}
	d, _ = establish(t, p, app, sdpOffer(30000, "0"), authorize(t, ch, "MD5", ruri, "alice", "s3cret", 1))
	d.req("BYE", "")
	p.expect(200)
	app.rec.expect("end")
	// A wrong password on an expired nonce is not a failure: it gets a
	// fresh challenge, so an old nonce cannot be used to lock a source out.
	clk.Advance(6 * time.Minute)
	for i := range 5 {
		r := inviteAndAck(t, p, authorize(t, ch, "MD5", ruri, "alice", "guess", 2+i))
		if r.StatusCode != 401 || strings.Contains(r.GetHeader("WWW-Authenticate").Value(), "stale") {
			t.Fatalf("wrong password on an expired nonce: %d\n%s", r.StatusCode, r)
		}
	}

	s := a.Stats()
	if s.AuthFailed != 3 || s.AuthLocked != 3 {
		t.Errorf("stats %+v, want AuthFailed 3, AuthLocked 3", s)
	}
	if n := strings.Count(logs.String(), `level=WARN msg="sip: source locked out after failed authentications"`); n != 1 {
		t.Errorf("%d lockout warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "failures=3") {
		t.Errorf("the warning does not count the failures:\n%s", logs.String())
	}
}

// TestAuthLock checks the lockout table alone: sources are independent
// (an IPv6 /64 is one source), a retransmission is not a second failure,
// refusals do not extend a lock, failures are forgotten after the window,
// the table is bounded, and a nil table (lockout off) never locks.
func TestAuthLock(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	l := newAuthLock(2, time.Minute)
	if _, locked := l.fail(a, "z9hG4bK-1", now); locked || l.isLocked(a, now) {
		t.Fatal("locked after one failure")
	}
	if n, locked := l.fail(a, "z9hG4bK-1", now); locked || n != 1 {
		t.Fatalf("a retransmission counted: %d, %v", n, locked)
	}
	if n, locked := l.fail(a, "z9hG4bK-2", now); !locked || n != 2 || !l.isLocked(a, now) {
		t.Fatalf("second failure: %d, %v", n, locked)
	}
	if l.isLocked(b, now) {
		t.Fatal("another source locked")
	}
	// Refusals at 30 and 59 s do not move the end of the lock.
	if !l.isLocked(a, now.Add(30*time.Second)) || !l.isLocked(a, now.Add(59*time.Second)) || l.isLocked(a, now.Add(time.Minute)) {
		t.Fatal("the lock did not end a minute after the failure that set it")
	}
	// An IPv6 /64 is one source.
	l.fail(b, "v6-1", now)
	if _, locked := l.fail(netip.MustParseAddr("2001:db8::ffff:1"), "v6-2", now); !locked || !l.isLocked(netip.MustParseAddr("2001:db8::2"), now) {
		t.Fatal("addresses of one /64 counted apart")
	}
	if l.isLocked(netip.MustParseAddr("2001:db8:0:1::1"), now) {
		t.Fatal("another /64 locked")
	}
	// Failures spread wider than the window never add up.
	for i := range 10 {
		if _, locked := l.fail(a, fmt.Sprint(i), now.Add(time.Duration(10+2*i)*time.Minute)); locked {
			t.Fatalf("locked by failures %d minutes apart", 2)
		}
	}

	// Bounded: a full table of recent failures counts no new source, and
	// makes room once they age.
	big := newAuthLock(1_000_000, time.Minute)
	for i := range maxLockSources {
		big.fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "", now)
	}
	if n, _ := big.fail(a, "", now); n != 0 || big.size() != maxLockSources {
		t.Fatalf("full table: %d failures counted, %d sources", n, big.size())
	}
	if n, _ := big.fail(a, "", now.Add(time.Minute)); n != 1 || big.size() != 1 {
		t.Fatalf("after the window: %d failures counted, %d sources", n, big.size())
	}

	var off *authLock = newAuthLock(-1, time.Minute)
	for range 100 {
		off.fail(a, "", now)
	}
	if off.isLocked(a, now) || off.size() != 0 {
		t.Fatal("lockout off locked")
	}
}

// TestRefusalIsStateless: a challenge to an INVITE that is never ACKed (a
// scanner, or a forged source address) is sent once, not retransmitted
// until Timer H, and the transaction is gone at once.
func TestRefusalIsStateless(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, InboundAuth: &InboundAuth{Users: map[string]string{"alice": "pw"}}}, agentOpts{})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0"))
	if res := p.response(true); res.StatusCode != 401 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	// sipgo would retransmit a transactional 401 after T1 (500 ms), 1 s,
	// 2 s ...; wait past the first two.
	time.Sleep(1600 * time.Millisecond)
	p.noMessage()
	if s := a.Stats(); s.Challenged != 1 {
		t.Fatalf("stats %+v", s)
	}
}
