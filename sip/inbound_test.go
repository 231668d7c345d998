package sip

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// establish runs INVITE → 100 → 200 → ACK → OnAck with an auto-answering
// app and returns the peer's dialog and the 200.
func establish(t *testing.T, p *peer, app *inboundApp, offer string, extra ...string) *dialog {
	t.Helper()
	d := p.newDialog()
	d.invite(offer, extra...)
	p.expect(100)
	res := p.expect(200)
	d.established(res)
	app.call(t)
	d.ack(1, "")
	app.rec.expect("ack")
	return d
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
