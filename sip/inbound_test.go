package sip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// establish runs INVITE → 100 → 200 → ACK → OnAck with an auto-answering
// app and returns the peer's dialog and the 200.
func establish(t *testing.T, p *peer, app *inboundApp, offer string, extra ...string) (*dialog, *InboundCall) {
	t.Helper()
	d := p.newDialog()
	d.invite(offer, extra...)
	p.expect(100)
	res := p.expect(200)
	d.established(res)
	c := app.call(t)
	d.ack(1, "")
	app.rec.expect("ack")
	return d, c
}

func TestInboundCallAnswerAckBye(t *testing.T) {
	app := newInboundApp(t)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite(sdpOffer(30000, "8 0 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:30"))
	p.expect(100)
	c := app.call(t)
	if c.CallID() != d.callID || c.From().User != "alice" || c.To().User != "bob" || c.From().DisplayName != "Alice" {
		t.Fatalf("call identity: %q %+v %+v", c.CallID(), c.From(), c.To())
	}
	if c.Source().Port() == 0 || c.Header("call-id") != d.callID || c.RequestURI() != d.ruri {
		t.Fatalf("source %v header %q ruri %q", c.Source(), c.Header("call-id"), c.RequestURI())
	}
	m, err := c.Negotiate(LocalMedia{Addr: mustAddr("127.0.0.1"), Port: 40000})
	if err != nil {
		t.Fatal(err)
	}
	want := Media{RTP: netip.MustParseAddrPort("127.0.0.1:30000"), RTCP: netip.MustParseAddrPort("127.0.0.1:30001"),
		Codec: Codec{PayloadType: 8, Name: "PCMA", ClockRate: 8000}, TelephoneEvent: 101, Ptime: 30 * time.Millisecond}
	if m != want {
		t.Fatalf("media %+v, want %+v", m, want)
	}
	if err := c.Progress(180, false); err != nil {
		t.Fatal(err)
	}
	ring := p.expect(180)
	if err := c.Answer(); err != nil {
		t.Fatal(err)
	}
	res := p.expect(200)
	if tagOf(res.To().Params) == "" || tagOf(res.To().Params) != tagOf(ring.To().Params) {
		t.Fatalf("To tags: 180 %q, 200 %q", ring.To().Value(), res.To().Value())
	}
	for _, l := range []string{"m=audio 40000 RTP/AVP 8 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-15", "a=sendrecv", "c=IN IP4 127.0.0.1"} {
		if !hasLine(res.Body(), l) {
			t.Errorf("answer lacks %q:\n%s", l, res.Body())
		}
	}
	if res.Contact() == nil || !strings.Contains(res.Contact().Address.String(), a.UDPAddr().String()) {
		t.Errorf("Contact %v", res.Contact())
	}
	d.established(res)
	d.ack(1, "")
	app.rec.expect("ack")
	if err := c.Answer(); err == nil {
		t.Error("second Answer succeeded")
	}
	d.req("BYE", "")
	p.expect(200)
	if e := app.rec.expect("end"); e.reason.Cause != EndBye {
		t.Fatalf("end %+v", e.reason)
	}
	if err := c.Hangup(); err != ErrCallEnded {
		t.Fatalf("Hangup after end: %v", err)
	}
}

func TestInbound2xxRetransmittedUntilAckThenTimeoutBye(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{t1: 20 * time.Millisecond, t2: 80 * time.Millisecond})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0"))
	p.expect(100)
	first := p.expect(200)
	// The 2xx comes again (T1, 2T1, ... T2) until the ACK wait of 64*T1
	// ends with a BYE.
	retx := 0
	for {
		m := p.next()
		if res, ok := m.(*sip.Response); ok {
			if res.StatusCode != 200 || res.CSeq().SeqNo != first.CSeq().SeqNo {
				t.Fatalf("unexpected %s", res.StartLine())
			}
			retx++
			continue
		}
		req := m.(*sip.Request)
		if req.Method != sip.BYE {
			t.Fatalf("want BYE, got %s", req.StartLine())
		}
		if tagOf(req.From().Params) != tagOf(first.To().Params) || tagOf(req.To().Params) != d.fromTag {
			t.Fatalf("BYE tags: %s / %s", req.From().Value(), req.To().Value())
		}
		p.reply(req, 200, "", nil, "")
		break
	}
	if retx < 5 {
		t.Fatalf("only %d retransmissions", retx)
	}
	if e := app.rec.expect("end"); e.reason.Cause != EndAckTimeout || !errors.Is(e.reason.Err, ErrTimeout) {
		t.Fatalf("end %+v", e.reason)
	}
}

func TestInboundHangupBeforeAckWaitsForAck(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{t1: 50 * time.Millisecond})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0"))
	p.expect(100)
	res := p.expect(200)
	d.established(res)
	c := app.call(t)
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	d.ack(1, "")
	// RFC 3261 §15: the BYE follows the ACK.
	for {
		m := p.next()
		if req, ok := m.(*sip.Request); ok {
			if req.Method != sip.BYE {
				t.Fatalf("want BYE, got %s", req.StartLine())
			}
			p.reply(req, 200, "", nil, "")
			break
		}
	}
	if n := app.rec.pending(); n != 0 {
		t.Fatalf("%d events after our own hangup", n)
	}
}

func TestInboundHangupAfterAck(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d, c := establish(t, p, app, sdpOffer(30000, "0"))
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	req := p.request()
	if req.Method != sip.BYE || req.Recipient.String() != "sip:alice@"+p.host {
		t.Fatalf("BYE: %s", req.StartLine())
	}
	p.reply(req, 200, "", nil, "")
	d.req("INFO", "")
	p.expect(481)
}

func TestInboundCancelOrder(t *testing.T) {
	app := newInboundApp(t)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	branch := d.invite(sdpOffer(30000, "0"))
	p.expect(100)
	c := app.call(t)
	if err := c.Progress(180, false); err != nil {
		t.Fatal(err)
	}
	p.expect(180)
	// CANCEL: same branch, CSeq number and Request-URI as the INVITE.
	h := d.headers("CANCEL", 1, branch)
	p.send("CANCEL "+d.ruri+" SIP/2.0", h, "")
	r1 := p.response(true)
	r2 := p.response(true)
	if r1.StatusCode != 200 || r1.CSeq().MethodName != sip.CANCEL {
		t.Fatalf("first: %s %s", r1.StartLine(), r1.CSeq().Value())
	}
	if r2.StatusCode != 487 || r2.CSeq().MethodName != sip.INVITE {
		t.Fatalf("second: %s %s", r2.StartLine(), r2.CSeq().Value())
	}
	// The ACK to the 487 goes to the INVITE transaction (same branch) and is
	// absorbed there.
	d.toTag = tagOf(r2.To().Params)
	p.send("ACK "+d.ruri+" SIP/2.0", d.headers("ACK", 1, branch), "")
	if e := app.rec.expect("end"); e.reason.Cause != EndCancel {
		t.Fatalf("end %+v", e.reason)
	}
	if err := c.Answer(); !errors.Is(err, ErrCallEnded) {
		t.Fatalf("Answer after CANCEL: %v", err)
	}
	// Nothing answered the ACK; the agent still serves.
	o := p.newDialog()
	o.ruri = "sip:ping@" + p.agentHost()
	o.req("OPTIONS", "")
	p.expect(200)
	// A CANCEL that matches nothing gets 481.
	x := p.newDialog()
	p.send("CANCEL "+x.ruri+" SIP/2.0", x.headers("CANCEL", 1, "z9hG4bKnomatch"), "")
	p.expect(481)
}

func TestInboundRejections(t *testing.T) {
	app := newInboundApp(t)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	tests := []struct {
		name  string
		offer string
		extra []string
		code  int
	}{
		{"no common codec", sdpOffer(30000, "18", "a=rtpmap:18 G729/8000"), nil, 488},
		{"srtp only", strings.Replace(sdpOffer(30000, "0"), "RTP/AVP", "RTP/SAVP", 1), nil, 488},
		{"broken sdp", "v=0\r\nthis is not sdp\r\n", nil, 400},
		{"no v line", "o=x 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n", nil, 400},
		{"session expires too small", sdpOffer(30000, "0"), []string{"Session-Expires: 30", "Supported: timer"}, 422},
		{"unknown require", sdpOffer(30000, "0"), []string{"Require: 100rel"}, 420},
		{"accept without sdp", sdpOffer(30000, "0"), []string{"Accept: text/plain"}, 406},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.newDialog()
			d.invite(tt.offer, tt.extra...)
			res := p.expect(tt.code)
			switch tt.code {
			case 422:
				if res.GetHeader("Min-SE") == nil || res.GetHeader("Min-SE").Value() != "90" {
					t.Errorf("422 without Min-SE: %v", res)
				}
			case 420:
				if h := res.GetHeader("Unsupported"); h == nil || h.Value() != "100rel" {
					t.Errorf("420 Unsupported: %v", h)
				}
			}
		})
	}
	select {
	case c := <-app.calls:
		t.Fatalf("OnInvite called for %s", c.CallID())
	default:
	}
}

func TestInboundOfferlessInvite(t *testing.T) {
	app := newInboundApp(t)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite("")
	p.expect(100)
	c := app.call(t)
	m, err := c.Negotiate(LocalMedia{Addr: mustAddr("127.0.0.1"), Port: 40002})
	if err != nil || m != (Media{}) {
		t.Fatalf("Negotiate: %+v %v", m, err)
	}
	if err := c.Answer(); err != nil {
		t.Fatal(err)
	}
	res := p.expect(200)
	for _, l := range []string{"m=audio 40002 RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv"} {
		if !hasLine(res.Body(), l) {
			t.Errorf("offer lacks %q:\n%s", l, res.Body())
		}
	}
	d.established(res)
	d.ack(1, sdpOffer(31000, "8 101", "a=rtpmap:101 telephone-event/8000"))
	e := app.rec.expect("media")
	if e.media.RTP.Port() != 31000 || e.media.Codec.Name != "PCMA" || e.media.TelephoneEvent != 101 {
		t.Fatalf("media from ACK: %+v", e.media)
	}
	app.rec.expect("ack")
}

func TestInboundOfferlessBadAnswerInAck(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite("")
	p.expect(100)
	d.established(p.expect(200))
	d.ack(1, sdpOffer(31000, "18"))
	req := p.request()
	if req.Method != sip.BYE {
		t.Fatalf("want BYE, got %s", req.StartLine())
	}
	p.reply(req, 200, "", nil, "")
	if e := app.rec.expect("end"); e.reason.Cause != EndNegotiation || !errors.Is(e.reason.Err, ErrNoCommonCodec) {
		t.Fatalf("end %+v", e.reason)
	}
}
