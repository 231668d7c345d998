package sip

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// rawRequest builds a request from the peer with the given start line and
// header overrides ("Name: value" replaces Name; "-Name" removes it).
func rawRequest(p *peer, method, ruri string, overrides ...string) (string, []string) {
	h := []string{
		"Via: SIP/2.0/UDP " + p.host + ";branch=z9hG4bK" + sip.GenerateTagN(10),
		"Max-Forwards: 70",
		"From: <sip:alice@" + p.host + ">;tag=" + sip.GenerateTagN(6),
		"To: <sip:bob@" + p.agentHost() + ">",
		"Call-ID: " + sip.GenerateTagN(12),
		"CSeq: 1 " + method,
		"Contact: <sip:alice@" + p.host + ">",
	}
	for _, o := range overrides {
		if strings.HasPrefix(o, "-") {
			name := strings.ToLower(o[1:]) + ":"
			for i, l := range h {
				if strings.HasPrefix(strings.ToLower(l), name) {
					h = append(h[:i], h[i+1:]...)
					break
				}
			}
			continue
		}
		name := strings.ToLower(o[:strings.IndexByte(o, ':')+1])
		replaced := false
		for i, l := range h {
			if strings.HasPrefix(strings.ToLower(l), name) {
				h[i], replaced = o, true
			}
		}
		if !replaced {
			h = append(h, o)
		}
	}
	return method + " " + ruri + " SIP/2.0", h
}

func TestRequestValidation(t *testing.T) {
	var draining atomic.Bool
	app := newInboundApp(t)
	app.onInvite = func(c *InboundCall) DialogHandler {
		_ = c.Reject(404, "")
		return nil
	}
	a := startAgent(t, Config{OnInvite: app.OnInvite, Draining: draining.Load}, agentOpts{})
	p := newUDPPeer(t, a)
	ruri := "sip:bob@" + p.agentHost()
	offer := sdpOffer(30000, "0")
	tests := []struct {
		name     string
		method   string
		ruri     string
		hdrs     []string
		body     string
		code     int
		header   string // a header the response must have
		draining bool
	}{
		{name: "options", method: "OPTIONS", code: 200, header: "Allow"},
		{name: "options accept", method: "OPTIONS", code: 200, header: "Accept"},
		{name: "options supported", method: "OPTIONS", code: 200, header: "Supported"},
		{name: "options while draining", method: "OPTIONS", code: 503, header: "Retry-After", draining: true},
		{name: "invite while draining", method: "INVITE", body: offer, code: 503, header: "Retry-After", draining: true},
		{name: "unknown method", method: "FOO", code: 501},
		{name: "register", method: "REGISTER", code: 405, header: "Allow"},
		{name: "subscribe", method: "SUBSCRIBE", code: 405, header: "Allow"},
		{name: "publish", method: "PUBLISH", code: 405},
		{name: "message", method: "MESSAGE", code: 405},
		{name: "notify", method: "NOTIFY", code: 405},
		{name: "bye out of dialog", method: "BYE", code: 481},
		{name: "info out of dialog", method: "INFO", code: 481},
		{name: "re-invite of no dialog", method: "INVITE", hdrs: []string{"To: <sip:bob@x>;tag=nope"}, body: offer, code: 481},
		{name: "mailto uri", method: "OPTIONS", ruri: "mailto:bob@example.com", code: 416},
		{name: "tel uri", method: "INVITE", ruri: "tel:+15551234567", body: offer, code: 404},
		{name: "version", method: "OPTIONS", hdrs: nil, code: 505},
		{name: "unknown require", method: "OPTIONS", hdrs: []string{"Require: foo, timer"}, code: 420, header: "Unsupported"},
		{name: "proxy-require is ignored", method: "OPTIONS", hdrs: []string{"Proxy-Require: foo"}, code: 200},
		{name: "non-sdp body", method: "INVITE", hdrs: []string{"Content-Type: text/plain"}, body: "hello", code: 415, header: "Accept"},
		{name: "gzip body", method: "INVITE", hdrs: []string{"Content-Type: application/sdp", "Content-Encoding: gzip"}, body: offer, code: 415, header: "Accept-Encoding"},
		{name: "body without content-type", method: "INVITE", body: offer, hdrs: []string{"-Content-Type"}, code: 400},
		{name: "missing from", method: "OPTIONS", hdrs: []string{"-From"}, code: 400},
		{name: "missing call-id", method: "OPTIONS", hdrs: []string{"-Call-ID"}, code: 400},
		{name: "bad cseq", method: "OPTIONS", hdrs: []string{"CSeq: 99999999999 OPTIONS"}, code: 400},
		{name: "cseq method mismatch", method: "OPTIONS", hdrs: []string{"CSeq: 1 INFO"}, code: 400},
		{name: "max-forwards 0 is for proxies", method: "OPTIONS", hdrs: []string{"Max-Forwards: 0"}, code: 200},
		{name: "request-uri without host", method: "OPTIONS", ruri: "sip:", code: 400},
		{name: "from without scheme", method: "OPTIONS", hdrs: []string{"From: :00:A;tag=1"}, code: 400},
		{name: "from host with angle bracket", method: "OPTIONS", hdrs: []string{"From: sip:>tag=;tag=1"}, code: 400},
		{name: "via with white space before ';'", method: "OPTIONS", hdrs: []string{"Via: SIP/2.0/UDP " + p.host + " ;branch=z9hG4bKsp"}, code: 200},
		{name: "via that is not SIP/2.0", method: "OPTIONS", hdrs: []string{"Via: // 0"}, code: 400},
		{name: "malformed from parameter", method: "OPTIONS", hdrs: []string{"From: <sip:a@example.com>;tag=0="}, code: 400},
		{name: "white space around the tag's = is fine", method: "OPTIONS", hdrs: []string{"From: <sip:a@example.com> ; tag = 7"}, code: 200},
		{name: "tel from is fine", method: "OPTIONS", hdrs: []string{"From: <tel:+15551234567>;tag=1"}, code: 200},
		{name: "pbx host name with underscore", method: "OPTIONS", hdrs: []string{"From: <sip:100@my_pbx.example.com>;tag=1"}, code: 200},
		{name: "multipart with sdp", method: "INVITE", hdrs: []string{"Content-Type: multipart/mixed;boundary=b1"},
			body: "--b1\r\nContent-Type: application/sdp\r\n\r\n" + offer + "--b1\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b1--\r\n", code: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			draining.Store(tt.draining)
			u := ruri
			if tt.ruri != "" {
				u = tt.ruri
			}
			hdrs := tt.hdrs
			if tt.body != "" && tt.name != "body without content-type" && !strings.Contains(fmt.Sprint(hdrs), "Content-Type") {
				hdrs = append(hdrs, "Content-Type: application/sdp")
			}
			start, h := rawRequest(p, tt.method, u, hdrs...)
			if tt.name == "version" {
				start = strings.Replace(start, "SIP/2.0", "SIP/3.0", 1)
			}
			p.send(start, h, tt.body)
			res := p.response(true)
			if res.StatusCode != tt.code {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, tt.code)
			}
			if tt.header != "" && res.GetHeader(tt.header) == nil {
				t.Fatalf("%d without %s:\n%s", res.StatusCode, tt.header, res)
			}
		})
	}
}

func TestInviteOverTCP(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newTCPPeer(t, a)
	// A 2 kB INVITE: far over the UDP limit, fine on TCP.
	var extra []string
	for i := 0; len(strings.Join(extra, "\r\n")) < 1800; i++ {
		extra = append(extra, fmt.Sprintf("a=x-padding-%d:%s", i, strings.Repeat("z", 40)))
	}
	offer := sdpOffer(30000, "0 8", extra...)
	d := p.newDialog()
	d.invite(offer)
	p.expect(100)
	res := p.expect(200)
	d.established(res)
	if res.Contact() == nil || !strings.Contains(res.Contact().Address.String(), "transport=tcp") {
		t.Fatalf("Contact %v", res.Contact())
	}
	c := app.call(t)
	d.ack(1, "")
	app.rec.expect("ack")
	// Our BYE reuses the caller's connection.
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	bye := p.request()
	if bye.Method != sip.BYE || bye.Via().Transport != "TCP" {
		t.Fatalf("BYE %s via %s", bye.StartLine(), bye.Via().Transport)
	}
	p.reply(bye, 200, "", nil, "")
}
