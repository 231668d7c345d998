package sip

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// originVersion returns the session version of an SDP's o= line.
func originVersion(t *testing.T, body []byte) string {
	t.Helper()
	for _, l := range sdpLines(body, false) {
		if strings.HasPrefix(l, "o=") {
			f := strings.Fields(l)
			return f[1] + " " + f[2]
		}
	}
	t.Fatalf("no o= in %s", body)
	return ""
}

func TestReinviteHoldResumeAndAddressChange(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0 101", "a=rtpmap:101 telephone-event/8000"))
	p.expect(100)
	first := p.expect(200)
	d.established(first)
	app.call(t)
	d.ack(1, "")
	app.rec.expect("ack")
	v0 := originVersion(t, first.Body())

	steps := []struct {
		name    string
		offer   string
		answer  string // direction line of our answer
		wantDir Direction
		wantRTP string
		same    bool // our SDP must not change (same o= version)
	}{
		{"hold sendonly", sdpOffer(30000, "0 101", "a=rtpmap:101 telephone-event/8000", "a=sendonly"), "a=recvonly", SendOnly, "127.0.0.1:30000", false},
		{"resume", sdpOffer(30000, "0 101", "a=rtpmap:101 telephone-event/8000", "a=sendrecv"), "a=sendrecv", SendRecv, "127.0.0.1:30000", false},
		{"same again", sdpOffer(30000, "0 101", "a=rtpmap:101 telephone-event/8000"), "a=sendrecv", SendRecv, "127.0.0.1:30000", true},
		{"new address", strings.ReplaceAll(sdpOffer(32000, "0 101", "a=rtpmap:101 telephone-event/8000"), "c=IN IP4 127.0.0.1", "c=IN IP4 127.0.0.2"), "a=sendrecv", SendRecv, "127.0.0.2:32000", true},
		{"hold 0.0.0.0", strings.ReplaceAll(sdpOffer(32000, "0"), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"), "a=recvonly", SendRecv, "0.0.0.0:32000", false},
		{"inactive", sdpOffer(30000, "0", "a=inactive"), "a=inactive", Inactive, "127.0.0.1:30000", false},
		{"codec change", sdpOffer(30000, "8 0"), "a=sendrecv", SendRecv, "127.0.0.1:30000", false},
	}
	prev := v0
	for _, s := range steps {
		d.req("INVITE", s.offer)
		res := p.expect(200)
		if !hasLine(res.Body(), s.answer) || !hasLine(res.Body(), "c=IN IP4 127.0.0.1") {
			t.Fatalf("%s: answer\n%s", s.name, res.Body())
		}
		if !strings.Contains(string(res.Body()), "m=audio 40000 ") {
			t.Fatalf("%s: local port changed:\n%s", s.name, res.Body())
		}
		v := originVersion(t, res.Body())
		if (v == prev) != s.same || strings.Fields(v)[0] != strings.Fields(v0)[0] {
			t.Fatalf("%s: o= %q after %q (same=%v)", s.name, v, prev, s.same)
		}
		prev = v
		d.ack(d.cseq, "")
		e := app.rec.expect("media")
		if e.media.Direction != s.wantDir || e.media.RTP != netip.MustParseAddrPort(s.wantRTP) {
			t.Fatalf("%s: media %+v", s.name, e.media)
		}
		if s.name == "hold 0.0.0.0" && e.media.CanSend() {
			t.Fatalf("%s: CanSend", s.name)
		}
		if s.name == "codec change" && e.media.Codec != PCMA {
			t.Fatalf("%s: codec %+v", s.name, e.media.Codec)
		}
	}
}

func TestReinviteWithoutSDP(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d, _ := establish(t, p, app, sdpOffer(30000, "0"))
	d.req("INVITE", "")
	res := p.expect(200)
	// Our full offer, on the same port.
	if !hasLine(res.Body(), "m=audio 40000 RTP/AVP 0 8 101") {
		t.Fatalf("offer:\n%s", res.Body())
	}
	d.ack(d.cseq, strings.ReplaceAll(sdpOffer(33000, "8"), "127.0.0.1", "127.0.0.3"))
	e := app.rec.expect("media")
	if e.media.RTP != netip.MustParseAddrPort("127.0.0.3:33000") || e.media.Codec != PCMA {
		t.Fatalf("media %+v", e.media)
	}
}

func TestUpdateInfoReferOptions(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d, _ := establish(t, p, app, sdpOffer(30000, "0"))

	d.req("UPDATE", "")
	if res := p.expect(200); len(res.Body()) != 0 {
		t.Fatalf("UPDATE without offer answered with a body")
	}
	d.req("UPDATE", sdpOffer(30000, "0", "a=sendonly"))
	res := p.expect(200)
	if !hasLine(res.Body(), "a=recvonly") {
		t.Fatalf("UPDATE answer:\n%s", res.Body())
	}
	if e := app.rec.expect("media"); e.media.Direction != SendOnly {
		t.Fatalf("media %+v", e.media)
	}

	for _, tt := range []struct {
		ct, body string
		digit    byte
		dur      time.Duration
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond},
		{"application/dtmf", "#", '#', 0},
	} {
		branch := "z9hG4bK" + sip.GenerateTagN(8)
		d.cseq++
		h := append(d.headers("INFO", d.cseq, branch), "Content-Type: "+tt.ct)
		p.send("INFO "+d.target()+" SIP/2.0", h, tt.body)
		p.expect(200)
		if e := app.rec.expect("dtmf"); e.digit != tt.digit || e.dur != tt.dur {
			t.Fatalf("dtmf %+v", e)
		}
	}
	d.cseq++
	p.send("INFO "+d.target()+" SIP/2.0", append(d.headers("INFO", d.cseq, "z9hG4bKinfo3"), "Content-Type: application/x-whatever"), "hello")
	p.expect(200)

	d.req("REFER", "", "Refer-To: <sip:carol@example.com>")
	p.expect(603)
	d.req("OPTIONS", "")
	if res := p.expect(200); res.GetHeader("Allow") == nil {
		t.Fatal("OPTIONS without Allow")
	}
	d.req("MESSAGE", "")
	p.expect(405)
	// A lower CSeq is out of order.
	low := d.cseq - 3
	p.send("INFO "+d.target()+" SIP/2.0", d.headers("INFO", low, "z9hG4bKlow"), "")
	p.expect(500)
	// An in-dialog request for an unknown dialog.
	x := p.newDialog()
	x.toTag = "nosuchtag"
	x.req("BYE", "")
	p.expect(481)
	if n := app.rec.pending(); n != 0 {
		t.Fatalf("%d unexpected events", n)
	}
}
