package sip

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// noMessage fails if the peer has received anything. Call it once the
// agent has decided (e.g. a counter moved): a drop happens before any
// answer could be written.
func (p *peer) noMessage() {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		p.t.Fatalf("peer got %s", m.String())
	default:
	}
}

func TestAllowedSourcesDropSilently(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, AllowedSources: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, agentOpts{})
	udp, tcp := newUDPPeer(t, a), newTCPPeer(t, a)
	udp.newDialog().invite(sdpOffer(30000, "0"))
	start, h := rawRequest(udp, "OPTIONS", "sip:bob@"+udp.agentHost())
	udp.send(start, h, "")
	udp.sendRaw("GARBAGE / SIP/2.0\r\nVia: SIP/2.0/UDP " + udp.host + "\r\n\r\n") // no stateless 400 either
	start, h = rawRequest(udp, "ACK", "sip:bob@"+udp.agentHost())                 // no To tag: no response of ours to acknowledge
	udp.send(start, h, "")
	tcp.newDialog().invite(sdpOffer(30000, "0"))
	bye := tcp.newDialog()
	bye.toTag = "nosuchdialog"
	bye.req("BYE", "")
	waitFor(t, "6 drops", func() bool { return a.Stats().NotAllowed == 6 })
	udp.noMessage()
	tcp.noMessage()

	// Our own call to a peer outside the list: its responses and in-dialog
	// requests pass.
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+udp.host, rec)
	inv := udp.request()
	udp.reply(inv, 200, "bobtag", []string{udp.contactHdr()}, sdpOffer(35000, "0"))
	if ack := udp.request(); ack.Method != sip.ACK {
		t.Fatalf("want ACK, got %s", ack.StartLine())
	}
	rec.expect("answer")
	udp.uasRequest(inv, "bobtag", "BYE", 1, "")
	udp.expect(200)
	if e := rec.expect("end"); e.reason.Cause != EndBye {
		t.Fatalf("end %+v", e.reason)
	}
	if n := a.Stats().NotAllowed; n != 6 {
		t.Fatalf("NotAllowed %d after an allowed dialog", n)
	}
}

func TestAllowedSourcesAdmitListedAndTrusted(t *testing.T) {
	for _, cfg := range []Config{
		{AllowedSources: []netip.Prefix{loopback}},
		{AllowedSources: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
	} {
		app := newInboundApp(t)
		answerAll(app)
		cfg.OnInvite = app.OnInvite
		a := startAgent(t, cfg, agentOpts{})
		p := newUDPPeer(t, a)
		d, _ := establish(t, p, app, sdpOffer(30000, "0"))
		d.req("BYE", "")
		p.expect(200)
		if s := a.Stats(); s.NotAllowed != 0 {
			t.Fatalf("stats %+v", s)
		}
	}
}

func TestRawTag(t *testing.T) {
	for in, want := range map[string]string{
		`<sip:bob@x>;tag=abc`:           "abc",
		`"B" <sip:bob@x;tag=uri>;TAG=h`: "h",
		`<sip:bob@x;tag=uri>`:           "",
		`sip:bob@x;tag=t1`:              "t1",
		`sip:bob@x`:                     "",
		`<sip:bob@x> ; tag = sp `:       "sp",
		``:                              "",
	} {
		if got := rawTag(in); got != want {
			t.Errorf("rawTag(%q) = %q, want %q", in, got, want)
		}
	}
}

// rejectAll makes OnInvite reject every call with code.
func rejectAll(app *inboundApp, code int) {
	app.onInvite = func(c *InboundCall) DialogHandler {
		_ = c.Reject(code, "")
		app.calls <- c
		return nil
	}
}

// inviteAndAck sends an out-of-dialog INVITE and returns its final
// response, ACKing a non-2xx.
func inviteAndAck(t *testing.T, p *peer, extra ...string) *sip.Response {
	t.Helper()
	d := p.newDialog()
	branch := d.invite(sdpOffer(30000, "0"), extra...)
	res := p.response(true)
	if res.StatusCode >= 300 {
		d.toTag = tagOf(res.To().Params)
		p.send("ACK "+d.ruri+" SIP/2.0", d.headers("ACK", 1, branch), "")
	}
	return res
}

func TestInviteRateLimit(t *testing.T) {
	clk := newFakeClock()
	app := newInboundApp(t)
	rejectAll(app, 486)
	a := startAgent(t, Config{OnInvite: app.OnInvite, InviteRateLimit: RateLimit{Rate: 1, Burst: 2}}, agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	for i := range 3 { // Rate+Burst at once
		if res := inviteAndAck(t, p); res.StatusCode != 486 {
			t.Fatalf("INVITE %d: %d %s", i+1, res.StatusCode, res.Reason)
		}
	}
	res := inviteAndAck(t, p)
	if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil || res.GetHeader("Retry-After").Value() != "5" {
		t.Fatalf("4th INVITE: %d %s Retry-After %v", res.StatusCode, res.Reason, res.GetHeader("Retry-After"))
	}
	if s := a.Stats(); s.RateLimited != 1 || s.RateLimitSources != 1 {
		t.Fatalf("stats %+v", s)
	}
	clk.Advance(time.Second) // one token back
	if res := inviteAndAck(t, p); res.StatusCode != 486 {
		t.Fatalf("after 1 s: %d", res.StatusCode)
	}
	if res := inviteAndAck(t, p); res.StatusCode != 503 {
		t.Fatalf("again: %d", res.StatusCode)
	}
	// OPTIONS are not limited.
	start, h := rawRequest(p, "OPTIONS", "sip:bob@"+p.agentHost())
	p.send(start, h, "")
	p.expect(200)

	// A trusted proxy is exempt.
	app2 := newInboundApp(t)
	rejectAll(app2, 486)
	b := startAgent(t, Config{OnInvite: app2.OnInvite, InviteRateLimit: RateLimit{Rate: 1},
		TrustedProxies: []netip.Prefix{loopback}}, agentOpts{clk: newFakeClock()})
	q := newUDPPeer(t, b)
	for i := range 5 {
		if res := inviteAndAck(t, q); res.StatusCode != 486 {
			t.Fatalf("trusted INVITE %d: %d", i+1, res.StatusCode)
		}
	}
	if s := b.Stats(); s.RateLimited != 0 || s.RateLimitSources != 0 {
		t.Fatalf("trusted stats %+v", s)
	}
}

func TestRateLimiterMemoryBound(t *testing.T) {
	l := newRateLimiter(RateLimit{Rate: 2, Burst: 2, MaxSources: 100})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		src := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		if ok, _ := l.allow(src, now); !ok {
			t.Fatalf("new source %v refused", src)
		}
		if n := l.size(); n > 100 {
			t.Fatalf("%d sources tracked", n)
		}
	}
	// Idle sources are forgotten: their buckets are full again after 2 s.
	now = now.Add(2 * time.Second)
	l.allow(netip.MustParseAddr("10.1.0.1"), now)
	if n := l.size(); n != 1 {
		t.Fatalf("%d sources after the idle time", n)
	}
	// One IPv6 /64 is one source; another /64 is another.
	a1, a2, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff:2"), netip.MustParseAddr("2001:db8:0:1::1")
	for i, want := range []bool{true, true, true, true, false} {
		src := a1
		if i%2 == 1 {
			src = a2
		}
		if ok, _ := l.allow(src, now); ok != want {
			t.Fatalf("/64 INVITE %d: %v", i+1, ok)
		}
	}
	if ok, wait := l.allow(b, now); !ok || wait != 0 {
		t.Fatal("another /64 limited")
	}
	if ok, wait := l.allow(a1, now); ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("wait %v", wait)
	}
	// IPv4-mapped addresses are IPv4 sources.
	if sourceKey(netip.MustParseAddr("::ffff:10.0.0.1")) != netip.MustParseAddr("10.0.0.1") {
		t.Fatal("mapped address")
	}
}

func TestRetryAfterOnEvery503(t *testing.T) {
	app := newInboundApp(t)
	rejectAll(app, 503)
	a := startAgent(t, Config{OnInvite: app.OnInvite, RetryAfter: 2500 * time.Millisecond}, agentOpts{})
	p := newUDPPeer(t, a)
	if res := inviteAndAck(t, p); res.StatusCode != 503 || res.GetHeader("Retry-After").Value() != "3" {
		t.Fatalf("Reject(503): %d %v", res.StatusCode, res.GetHeader("Retry-After"))
	}

	// No OnInvite: 503.
	b := startAgent(t, Config{}, agentOpts{})
	q := newUDPPeer(t, b)
	if res := inviteAndAck(t, q); res.StatusCode != 503 || res.GetHeader("Retry-After").Value() != "5" {
		t.Fatalf("no OnInvite: %d %v", res.StatusCode, res.GetHeader("Retry-After"))
	}

	// Close answers unanswered calls 503.
	app3 := newInboundApp(t)
	c := startAgent(t, Config{OnInvite: app3.OnInvite}, agentOpts{})
	r := newUDPPeer(t, c)
	r.newDialog().invite(sdpOffer(30000, "0"))
	app3.call(t)
	go func() { _ = c.Close() }()
	if res := r.expect(503); res.GetHeader("Retry-After") == nil {
		t.Fatalf("Close 503 without Retry-After:\n%s", res)
	}
	if s := a.Stats(); s.RateLimited != 0 || s.Draining != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDrainingCounted(t *testing.T) {
	a := startAgent(t, Config{OnInvite: newInboundApp(t).OnInvite, Draining: func() bool { return true }}, agentOpts{})
	p := newUDPPeer(t, a)
	if res := inviteAndAck(t, p); res.StatusCode != 503 || res.GetHeader("Retry-After").Value() != "5" || tagOf(res.To().Params) == "" {
		t.Fatalf("draining: %d %s", res.StatusCode, res)
	}
	start, h := rawRequest(p, "OPTIONS", "sip:bob@"+p.agentHost())
	p.send(start, h, "")
	p.expect(503)
	if s := a.Stats(); s.Draining != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// authorize answers the challenge of res (the header of algorithm alg)
// for an INVITE to ruri with nonce count nc.
func authorize(t *testing.T, res *sip.Response, alg, ruri, user, pass string, nc int) string {
	t.Helper()
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		ch, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatal(err)
		}
		if ch.Algorithm != alg {
			continue
		}
		cred, err := digest.Digest(ch, digest.Options{Method: "INVITE", URI: ruri, Username: user, Password: pass, Count: nc})
		if err != nil {
			t.Fatal(err)
		}
		return "Authorization: " + cred.String()
	}
	t.Fatalf("no %s challenge in\n%s", alg, res)
	return ""
}

func TestInboundDigestAuth(t *testing.T) {
	clk := newFakeClock()
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, InboundAuth: &InboundAuth{Realm: "media.test", Users: map[string]string{"alice": "s3cret"},
		Algorithms: []string{"SHA-256", "MD5"}}}, agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	ruri := "sip:bob@" + p.agentHost()

	res := inviteAndAck(t, p)
	chs := res.GetHeaders("WWW-Authenticate")
	if res.StatusCode != 401 || len(chs) != 2 || !strings.Contains(chs[0].Value(), "algorithm=SHA-256") ||
		!strings.Contains(chs[1].Value(), "algorithm=MD5") || !strings.Contains(chs[0].Value(), `qop="auth"`) ||
		!strings.Contains(chs[0].Value(), `realm="media.test"`) || strings.Contains(chs[0].Value(), "stale") {
		t.Fatalf("challenge: %d\n%s", res.StatusCode, res)
	}

	nc := 0
	for _, alg := range []string{"SHA-256", "MD5"} {
		nc++
		auth := authorize(t, res, alg, ruri, "alice", "s3cret", nc)
		d, c := establish(t, p, app, sdpOffer(30000, "0"), auth)
		if c.AuthUser() != "alice" {
			t.Fatalf("AuthUser %q", c.AuthUser())
		}
		d.req("BYE", "")
		p.expect(200)
		app.rec.expect("end")
		// The same Authorization again is a replay: stale=true.
		replay := inviteAndAck(t, p, auth)
		if replay.StatusCode != 401 || !strings.Contains(replay.GetHeader("WWW-Authenticate").Value(), "stale=true") {
			t.Fatalf("replay %s: %d\n%s", alg, replay.StatusCode, replay)
		}
		// The next nonce count is fine.
		nc++
		d, _ = establish(t, p, app, sdpOffer(30000, "0"), authorize(t, res, alg, ruri, "alice", "s3cret", nc))
		d.req("BYE", "")
		p.expect(200)
		app.rec.expect("end")
	}

	// Wrong password, unknown user: 403.
	for _, up := range [][2]string{{"alice", "nope"}, {"mallory", "s3cret"}} {
		if r := inviteAndAck(t, p, authorize(t, res, "MD5", ruri, up[0], up[1], 5)); r.StatusCode != 403 {
			t.Fatalf("%v: %d", up, r.StatusCode)
		}
	}
	// Another realm's credentials, a forged nonce: a fresh challenge.
	other := strings.Replace(authorize(t, res, "MD5", ruri, "alice", "s3cret", 6), `realm="media.test"`, `realm="other"`, 1)
	forged := strings.Replace(authorize(t, res, "MD5", ruri, "alice", "s3cret", 7), `nonce="`, `nonce="x`, 1)
	for _, h := range []string{other, forged} {
		if r := inviteAndAck(t, p, h); r.StatusCode != 401 || strings.Contains(r.String(), "stale") {
			t.Fatalf("%s: %d", h, r.StatusCode)
		}
	}
	// A digest for another Request-URI: 400.
	if r := inviteAndAck(t, p, authorize(t, res, "MD5", "sip:carol@"+p.agentHost(), "alice", "s3cret", 8)); r.StatusCode != 400 {
		t.Fatalf("uri mismatch: %d", r.StatusCode)
	}
	// Right credentials on an expired nonce: stale=true.
	clk.Advance(6 * time.Minute)
	stale := inviteAndAck(t, p, authorize(t, res, "SHA-256", ruri, "alice", "s3cret", 9))
	if stale.StatusCode != 401 || !strings.Contains(stale.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("expired nonce: %d\n%s", stale.StatusCode, stale)
	}
	d, _ := establish(t, p, app, sdpOffer(30000, "0"), authorize(t, stale, "SHA-256", ruri, "alice", "s3cret", 1))
	d.req("BYE", "")
	p.expect(200)
	app.rec.expect("end")

	s := a.Stats()
	if s.Challenged != 6 || s.AuthFailed != 2 || s.Invalid != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInboundDigestNonceBoundToSource(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, InboundAuth: &InboundAuth{Lookup: func(u string) (string, bool) {
		return "pw", u == "alice"
	}, Algorithms: []string{"md5"}}}, agentOpts{})
	p := newUDPPeer(t, a)
	res := inviteAndAck(t, p)
	if n := len(res.GetHeaders("WWW-Authenticate")); n != 1 {
		t.Fatalf("%d challenges", n)
	}
	// The nonce verifies for its source only.
	ch, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	now := time.Now()
	if _, ok := a.digest.issued(ch.Nonce, netip.MustParseAddr("127.0.0.1"), now); !ok {
		t.Fatal("nonce refused for its source")
	}
	if _, ok := a.digest.issued(ch.Nonce, netip.MustParseAddr("127.0.0.2"), now); ok {
		t.Fatal("nonce accepted from another source")
	}
	auth := authorize(t, res, "MD5", "sip:bob@"+p.agentHost(), "alice", "pw", 1)
	d, c := establish(t, p, app, sdpOffer(30000, "0"), auth)
	if c.AuthUser() != "alice" {
		t.Fatalf("AuthUser %q", c.AuthUser())
	}
	d.req("BYE", "")
	p.expect(200)
}

func TestInboundDigestTrustedProxyExempt(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, TrustedProxies: []netip.Prefix{loopback},
		InboundAuth: &InboundAuth{Users: map[string]string{"alice": "x"}}}, agentOpts{})
	p := newUDPPeer(t, a)
	d, c := establish(t, p, app, sdpOffer(30000, "0"))
	if c.AuthUser() != "" {
		t.Fatalf("AuthUser %q", c.AuthUser())
	}
	d.req("BYE", "")
	p.expect(200)
	if s := a.Stats(); s.Challenged != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestDigestAgentToAgent: our outbound digest client (a trunk's
// credentials) against our inbound digest server, SHA-256 first.
func TestDigestAgentToAgent(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	b := startAgent(t, Config{OnInvite: app.OnInvite, InboundAuth: &InboundAuth{Users: map[string]string{"trunkuser": "pw"}}}, agentOpts{})
	host := b.UDPAddr().String()
	a := startAgent(t, Config{Trunks: []Trunk{{Name: "b", Domain: "127.0.0.1", Proxy: host, Username: "trunkuser", Password: "pw"}}}, agentOpts{})
	rec := newRecorder(t)
	oc := invite(t, a, fmt.Sprintf("sip:bob@127.0.0.1:%d", b.UDPAddr().Port()), rec)
	rec.expect("answer")
	c := app.call(t)
	if c.AuthUser() != "trunkuser" {
		t.Fatalf("AuthUser %q", c.AuthUser())
	}
	app.rec.expect("ack")
	if err := oc.Hangup(); err != nil {
		t.Fatal(err)
	}
	app.rec.expect("end")
	if s := b.Stats(); s.Challenged != 1 || s.AuthFailed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInvalidCounted(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	p := newUDPPeer(t, a)
	start, h := rawRequest(p, "FOO", "sip:bob@"+p.agentHost())
	p.send(start, h, "")
	p.expect(501)
	start, h = rawRequest(p, "OPTIONS", "sip:bob@"+p.agentHost())
	p.send(strings.Replace(start, " SIP/2.0", "  SIP/2.0", 1), h, "") // stateless 400
	p.expect(400)
	if s := a.Stats(); s.Invalid != 2 || s.NotAllowed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRequestRateLimit: with RequestRateLimit Rate 1 Burst 2, a source's
// out-of-dialog OPTIONS, REGISTER and garbage share one bucket of 3; the
// rest are dropped without an answer and counted. INVITEs (which have
// their own limit), CANCELs and the requests of a dialog are never
// limited; a token comes back each second on the fake clock; a trusted
// proxy is exempt.
func TestRequestRateLimit(t *testing.T) {
	clk := newFakeClock()
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, RequestRateLimit: RateLimit{Rate: 1, Burst: 2}}, agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	options := func() {
		start, h := rawRequest(p, "OPTIONS", "sip:bob@"+p.agentHost())
		p.send(start, h, "")
	}
	options()
	p.expect(200)
	start, h := rawRequest(p, "REGISTER", "sip:"+p.agentHost())
	p.send(start, h, "")
	p.expect(405)
	p.sendRaw("GARBAGE  / SIP/2.0\r\nVia: SIP/2.0/UDP " + p.host + ";branch=z9hG4bKx\r\n\r\n")
	p.expect(400)
	for range 5 { // over the limit: silence
		options()
	}
	// A malformed INVITE would get a stateless 400: that answer takes a
	// token too.
	p.sendRaw("INVITE  sip:x@" + p.agentHost() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.host + ";branch=z9hG4bKy\r\n\r\n")
	waitFor(t, "6 drops", func() bool { return a.Stats().RequestRateLimited == 6 })
	p.noMessage()

	// A call and its in-dialog requests pass while the source is limited.
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0"))
	p.expect(100)
	d.established(p.expect(200))
	d.ack(1, "")
	d.req("BYE", "")
	p.expect(200)
	if n := a.Stats().RequestRateLimited; n != 6 {
		t.Fatalf("RequestRateLimited %d after a call, want 6", n)
	}

	clk.Advance(time.Second) // one token back
	options()
	p.expect(200)
	options()
	waitFor(t, "7 drops", func() bool { return a.Stats().RequestRateLimited == 7 })
	p.noMessage()

	// A trusted proxy is exempt.
	b := startAgent(t, Config{OnInvite: app.OnInvite, RequestRateLimit: RateLimit{Rate: 1},
		TrustedProxies: []netip.Prefix{loopback}}, agentOpts{clk: newFakeClock()})
	q := newUDPPeer(t, b)
	for range 5 {
		start, h := rawRequest(q, "OPTIONS", "sip:bob@"+q.agentHost())
		q.send(start, h, "")
		q.expect(200)
	}
	if n := b.Stats().RequestRateLimited; n != 0 {
		t.Fatalf("trusted proxy: RequestRateLimited %d", n)
	}
}
