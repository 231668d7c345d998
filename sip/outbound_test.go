package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/mediaserver-go/mediaserver/internal/testnet"
)

func invite(t *testing.T, a *Agent, target string, rec *recorder, codecs ...Codec) *OutboundCall {
	t.Helper()
	oc, err := a.Invite(context.Background(), InviteRequest{Target: target, CallerID: "1000", DisplayName: "Media Server",
		Local: LocalMedia{Addr: mustAddr("127.0.0.1"), Port: 42000, Codecs: codecs}}, rec)
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	return oc
}

// uasRequest sends a request from the called peer inside the dialog of inv.
func (p *peer) uasRequest(inv *sip.Request, toTag, method string, cseq int, body string) {
	p.t.Helper()
	h := []string{
		"Via: SIP/2.0/" + p.tp + " " + p.host + ";branch=z9hG4bK" + sip.GenerateTagN(10),
		"Max-Forwards: 70",
		"From: " + inv.To().Value() + ";tag=" + toTag,
		"To: " + inv.From().Value(),
		"Call-ID: " + inv.CallID().Value(),
		fmt.Sprintf("CSeq: %d %s", cseq, method),
	}
	if body != "" {
		h = append(h, "Content-Type: application/sdp")
	}
	p.send(method+" "+inv.Contact().Address.String()+" SIP/2.0", h, body)
}

func (p *peer) contactHdr() string { return "Contact: <sip:bob@" + p.host + ">" }

func TestOutboundCallProgressAnswerBye(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	oc := invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	if inv.Method != sip.INVITE || inv.Recipient.String() != "sip:bob@"+p.host || inv.CallID().Value() != oc.CallID() {
		t.Fatalf("INVITE %s", inv.StartLine())
	}
	if inv.From().Address.User != "1000" || inv.From().DisplayName != "Media Server" || tagOf(inv.From().Params) == "" {
		t.Fatalf("From %s", inv.From().Value())
	}
	for _, h := range []string{"Session-Expires", "Min-SE", "Supported", "Allow", "Contact"} {
		if inv.GetHeader(h) == nil {
			t.Errorf("INVITE lacks %s", h)
		}
	}
	for _, l := range []string{"m=audio 42000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv"} {
		if !hasLine(inv.Body(), l) {
			t.Errorf("offer lacks %q", l)
		}
	}
	p.reply(inv, 100, "", nil, "")
	p.reply(inv, 180, "bobtag", []string{p.contactHdr()}, "")
	if e := rec.expect("progress"); e.code != 180 || e.early != nil {
		t.Fatalf("progress %+v", e)
	}
	p.reply(inv, 183, "bobtag", []string{p.contactHdr()}, sdpOffer(35000, "8 96", "a=rtpmap:96 telephone-event/8000"))
	if e := rec.expect("progress"); e.code != 183 || e.early == nil || e.early.RTP.Port() != 35000 || e.early.Codec != PCMA || e.early.TelephoneEvent != 96 {
		t.Fatalf("progress %+v early %+v", e, e.early)
	}
	rr := "Record-Route: <sip:" + p.host + ";lr>"
	p.reply(inv, 200, "bobtag", []string{"Contact: <sip:bob@" + p.host + ";transport=udp>", rr}, sdpOffer(35002, "0"))
	ack := p.request()
	if ack.Method != sip.ACK || ack.Recipient.String() != "sip:bob@"+p.host+";transport=udp" ||
		ack.CSeq().SeqNo != inv.CSeq().SeqNo || tagOf(ack.To().Params) != "bobtag" || ack.GetHeader("Route") == nil {
		t.Fatalf("ACK %s\n%s", ack.StartLine(), ack)
	}
	if e := rec.expect("answer"); e.media.RTP.Port() != 35002 || e.media.Codec != PCMU {
		t.Fatalf("answer %+v", e.media)
	}
	p.uasRequest(inv, "bobtag", "BYE", 1, "")
	p.expect(200)
	if e := rec.expect("end"); e.reason.Cause != EndBye {
		t.Fatalf("end %+v", e.reason)
	}
}

func TestOutboundFailures(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	p.reply(inv, 486, "busy", nil, "")
	e := rec.expect("fail")
	var se *StatusError
	if !errors.As(e.err, &se) || se.Code != 486 || se.Reason != "Busy Here" {
		t.Fatalf("fail %v", e.err)
	}
	if ack := p.request(); ack.Method != sip.ACK {
		t.Fatalf("want ACK to the 486, got %s", ack.StartLine())
	}

	// TCP to a closed port fails at once.
	closed := testnet.RefusingAddr(t)
	_, err := a.Invite(context.Background(), InviteRequest{Target: "sip:x@" + closed + ";transport=tcp",
		Local: LocalMedia{Addr: mustAddr("127.0.0.1"), Port: 42000}}, rec)
	if !errors.Is(err, ErrTransport) {
		t.Fatalf("Invite to a closed TCP port: %v", err)
	}
	_, err = a.Invite(context.Background(), InviteRequest{Target: "5551234", Local: LocalMedia{Port: 42000}}, rec)
	if !errors.Is(err, ErrNoRoute) {
		t.Fatalf("bare number without trunk: %v", err)
	}
}

// checkDigest verifies an Authorization or Proxy-Authorization header
// against the challenge it answers.
func checkDigest(t *testing.T, req *sip.Request, header, challenge, user, pass string) {
	t.Helper()
	h := req.GetHeader(header)
	if h == nil {
		t.Fatalf("%s lacks %s", req.Method, header)
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		t.Fatal(err)
	}
	chal, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	want, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: cred.URI, Username: user,
		Password: pass, Count: cred.Nc, Cnonce: cred.Cnonce})
	if err != nil {
		t.Fatal(err)
	}
	if cred.Response != want.Response || cred.URI != req.Recipient.String() || cred.Username != user ||
		cred.Nonce != chal.Nonce || cred.Realm != chal.Realm {
		t.Fatalf("%s %s: %s (want response %s, uri %s)", req.Method, header, h.Value(), want.Response, req.Recipient.String())
	}
}

func TestOutboundDigestAuth(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	p := newUDPPeer(t, a)
	a.cfg.Trunks = []Trunk{{Name: "t", Proxy: p.host, Domain: "example.com", Username: "alice", Password: "s3cret",
		PAssertedIdentity: "+15550001111"}}
	rec := newRecorder(t)
	oc := invite(t, a, "+1 (555) 123-4567", rec)
	inv := p.request()
	if got := inv.Recipient.String(); got != "sip:+15551234567@example.com;user=phone" {
		t.Fatalf("Request-URI %s", got)
	}
	if h := inv.GetHeader("P-Asserted-Identity"); h == nil || h.Value() != "<sip:+15550001111@example.com>" {
		t.Fatalf("PAI %v", h)
	}
	if inv.From().Address.Host != "example.com" {
		t.Fatalf("From %s", inv.From().Value())
	}
	proxyChal := `Digest realm="proxy", nonce="n1", qop="auth", algorithm=MD5`
	p.reply(inv, 407, "t1", []string{"Proxy-Authenticate: " + proxyChal}, "")
	p.request() // ACK to the 407
	inv2 := p.request()
	checkDigest(t, inv2, "Proxy-Authorization", proxyChal, "alice", "s3cret")
	if inv2.CSeq().SeqNo != inv.CSeq().SeqNo+1 || inv2.Via().Params.GetOr("branch", "") == inv.Via().Params.GetOr("branch", "") {
		t.Fatalf("retry CSeq/branch not renewed")
	}
	regChal := `Digest realm="registrar", nonce="n2"`
	p.reply(inv2, 401, "t2", []string{"WWW-Authenticate: " + regChal}, "")
	p.request()
	inv3 := p.request()
	checkDigest(t, inv3, "Proxy-Authorization", proxyChal, "alice", "s3cret")
	checkDigest(t, inv3, "Authorization", regChal, "alice", "s3cret")
	staleChal := `Digest realm="registrar", nonce="n3", stale=true`
	p.reply(inv3, 401, "t3", []string{"WWW-Authenticate: " + staleChal}, "")
	p.request()
	inv4 := p.request()
	checkDigest(t, inv4, "Authorization", staleChal, "alice", "s3cret")
	p.reply(inv4, 200, "bob", []string{p.contactHdr()}, sdpOffer(35000, "0"))
	ack := p.request()
	if ack.Method != sip.ACK || ack.GetHeader("Authorization") == nil {
		t.Fatalf("ACK %s without credentials", ack.StartLine())
	}
	rec.expect("answer")

	// Our BYE is challenged too.
	if err := oc.Hangup(); err != nil {
		t.Fatal(err)
	}
	bye := p.request()
	byeChal := `Digest realm="registrar", nonce="n4", qop="auth"`
	p.reply(bye, 401, "", []string{"WWW-Authenticate: " + byeChal}, "")
	bye2 := p.request()
	if bye2.Method != sip.BYE {
		t.Fatalf("want BYE, got %s", bye2.StartLine())
	}
	checkDigest(t, bye2, "Authorization", byeChal, "alice", "s3cret")
	p.reply(bye2, 200, "", nil, "")

	// Wrong credentials: the same challenge again is final.
	rec2 := newRecorder(t)
	invite(t, a, "5550000", rec2)
	i1 := p.request()
	p.reply(i1, 401, "x", []string{"WWW-Authenticate: " + regChal}, "")
	p.request()
	i2 := p.request()
	p.reply(i2, 401, "x", []string{`WWW-Authenticate: Digest realm="registrar", nonce="n9"`}, "")
	var se *StatusError
	if e := rec2.expect("fail"); !errors.As(e.err, &se) || se.Code != 401 {
		t.Fatalf("fail %v", e.err)
	}
}

func TestOutboundRedirect(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	p1 := newUDPPeer(t, a)
	p2 := newUDPPeer(t, a)
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+p1.host, rec)
	inv := p1.request()
	p1.reply(inv, 302, "r", []string{"Contact: <sip:carol@" + p2.host + ">"}, "")
	p1.request() // ACK
	inv2 := p2.request()
	if inv2.Recipient.String() != "sip:carol@"+p2.host || inv2.CallID().Value() != inv.CallID().Value() {
		t.Fatalf("redirected INVITE %s", inv2.StartLine())
	}
	// Only one redirect is followed.
	p2.reply(inv2, 302, "r2", []string{"Contact: <sip:dave@" + p1.host + ">"}, "")
	var se *StatusError
	if e := rec.expect("fail"); !errors.As(e.err, &se) || se.Code != 302 {
		t.Fatalf("fail %v", e.err)
	}
}

func TestOutboundCancelAfterProvisional(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	oc := invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	// Hang up before any response: the CANCEL must wait for a provisional.
	if err := oc.Hangup(); err != nil {
		t.Fatal(err)
	}
	p.reply(inv, 180, "bobtag", nil, "")
	cancel := p.request()
	if cancel.Method != sip.CANCEL || cancel.CSeq().SeqNo != inv.CSeq().SeqNo ||
		cancel.Via().Params.GetOr("branch", "") != inv.Via().Params.GetOr("branch", "") ||
		cancel.Recipient.String() != inv.Recipient.String() {
		t.Fatalf("CANCEL %s\n%s", cancel.StartLine(), cancel)
	}
	p.reply(cancel, 200, "bobtag", nil, "")
	p.reply(inv, 487, "bobtag", nil, "")
	if ack := p.request(); ack.Method != sip.ACK || ack.CSeq().SeqNo != inv.CSeq().SeqNo {
		t.Fatalf("want ACK to 487, got %s", ack.StartLine())
	}
	if err := oc.Hangup(); !errors.Is(err, ErrCallEnded) {
		t.Fatalf("second Hangup: %v", err)
	}
	if rec.pending() != 0 {
		t.Fatalf("events after Hangup: %+v", rec.next())
	}
}

func TestOutboundCrossing200(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	oc := invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	p.reply(inv, 180, "bobtag", nil, "")
	rec.expect("progress")
	if err := oc.Hangup(); err != nil {
		t.Fatal(err)
	}
	cancel := p.request()
	if cancel.Method != sip.CANCEL {
		t.Fatalf("want CANCEL, got %s", cancel.StartLine())
	}
	// The callee answered before it saw the CANCEL.
	p.reply(inv, 200, "bobtag", []string{p.contactHdr()}, sdpOffer(35000, "0"))
	p.reply(cancel, 200, "bobtag", nil, "")
	ack := p.request()
	bye := p.request()
	if ack.Method != sip.ACK || bye.Method != sip.BYE || tagOf(bye.To().Params) != "bobtag" {
		t.Fatalf("want ACK and BYE, got %s, %s", ack.StartLine(), bye.StartLine())
	}
	p.reply(bye, 200, "", nil, "")
	if rec.pending() != 0 {
		t.Fatalf("events after Hangup: %+v", rec.next())
	}
}

func TestOutboundForked2xx(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	p.reply(inv, 200, "forkA", []string{p.contactHdr()}, sdpOffer(35000, "0"))
	if ack := p.request(); ack.Method != sip.ACK || tagOf(ack.To().Params) != "forkA" {
		t.Fatalf("ACK A: %s %s", ack.StartLine(), ack.To().Value())
	}
	rec.expect("answer")
	p.reply(inv, 200, "forkB", []string{"Contact: <sip:bobB@" + p.host + ">"}, sdpOffer(36000, "0"))
	ackB := p.request()
	byeB := p.request()
	if ackB.Method != sip.ACK || tagOf(ackB.To().Params) != "forkB" || byeB.Method != sip.BYE ||
		tagOf(byeB.To().Params) != "forkB" || byeB.Recipient.User != "bobB" {
		t.Fatalf("fork B: %s %s / %s %s", ackB.StartLine(), ackB.To().Value(), byeB.StartLine(), byeB.To().Value())
	}
	p.reply(byeB, 200, "", nil, "")
	// A retransmission of A's 2xx is ACKed again.
	p.reply(inv, 200, "forkA", []string{p.contactHdr()}, sdpOffer(35000, "0"))
	if ack := p.request(); ack.Method != sip.ACK || tagOf(ack.To().Params) != "forkA" {
		t.Fatalf("re-ACK A: %s", ack.StartLine())
	}
	if rec.pending() != 0 {
		t.Fatalf("unexpected events: %+v", rec.next())
	}
}

func TestOutboundNoAnswerTimeout(t *testing.T) {
	clk := newFakeClock()
	a := startAgent(t, Config{NoAnswerTimeout: 30 * time.Second}, agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	p.reply(inv, 180, "bobtag", nil, "")
	rec.expect("progress")
	clk.Advance(29 * time.Second)
	if rec.pending() != 0 {
		t.Fatal("failed early")
	}
	clk.Advance(time.Second)
	if e := rec.expect("fail"); !errors.Is(e.err, ErrTimeout) {
		t.Fatalf("fail %v", e.err)
	}
	cancel := p.request()
	if cancel.Method != sip.CANCEL {
		t.Fatalf("want CANCEL, got %s", cancel.StartLine())
	}
	p.reply(cancel, 200, "bobtag", nil, "")
	p.reply(inv, 487, "bobtag", nil, "")
	p.request() // ACK
}

func TestOutboundSessionRefresh(t *testing.T) {
	clk := newFakeClock()
	a := startAgent(t, Config{SessionExpires: 300 * time.Second}, agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	if h := inv.GetHeader("Session-Expires"); h == nil || h.Value() != "300" {
		t.Fatalf("Session-Expires %v", h)
	}
	p.reply(inv, 200, "bobtag", []string{p.contactHdr(), "Session-Expires: 120;refresher=uac", "Require: timer",
		"Allow: INVITE, ACK, BYE, UPDATE"}, sdpOffer(35000, "0"))
	p.request() // ACK
	rec.expect("answer")
	clk.Advance(60 * time.Second)
	upd := p.request()
	if upd.Method != sip.UPDATE || upd.GetHeader("Session-Expires").Value() != "120;refresher=uac" {
		t.Fatalf("refresh %s", upd.StartLine())
	}
	p.reply(upd, 200, "", []string{"Session-Expires: 120;refresher=uas"}, "")
	// The peer took over refreshing: without its refresh the call expires.
	c := a.findDialog(inv.CallID().Value(), tagOf(inv.From().Params))
	waitFor(t, "refresh done", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.uacPending && !c.st.weRefresh
	})
	clk.Advance(88 * time.Second)
	bye := p.request()
	if bye.Method != sip.BYE {
		t.Fatalf("want BYE, got %s", bye.StartLine())
	}
	p.reply(bye, 200, "", nil, "")
	if e := rec.expect("end"); e.reason.Cause != EndSessionExpired {
		t.Fatalf("end %+v", e.reason)
	}
}

func TestOutboundBigInviteGoesOverTCP(t *testing.T) {
	a := startAgent(t, Config{}, agentOpts{})
	// The callee listens on UDP and TCP on one port, like a phone.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	ln, err := net.Listen("tcp", udp.LocalAddr().String())
	if err != nil {
		t.Skipf("TCP port taken: %v", err)
	}
	defer ln.Close()
	codecs := []Codec{PCMU, PCMA}
	for i := 0; len(codecs) < 60; i++ {
		codecs = append(codecs, Codec{PayloadType: uint8(96 + i%30), Name: fmt.Sprintf("X-CODEC-WITH-A-LONG-NAME-%d", i), ClockRate: 8000})
	}
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+udp.LocalAddr().String(), rec, codecs...)
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, tcp: conn, msgs: make(chan sip.Message, 16), host: udp.LocalAddr().String(), tp: "TCP"}
	p.wg.Add(1)
	go p.readTCP()
	defer p.close()
	inv := p.request()
	if inv.Via().Transport != "TCP" || len(inv.String()) <= udpMTULimit {
		t.Fatalf("INVITE of %d bytes via %s", len(inv.String()), inv.Via().Transport)
	}
	p.reply(inv, 200, "bobtag", []string{"Contact: <sip:bob@" + p.host + ";transport=tcp>"}, sdpOffer(35000, "0"))
	if ack := p.request(); ack.Method != sip.ACK {
		t.Fatalf("want ACK, got %s", ack.StartLine())
	}
	rec.expect("answer")
	_ = strings.Contains
}
