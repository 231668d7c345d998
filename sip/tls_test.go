package sip

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// testCA is a certificate authority made for one test, and a server
// certificate it signed for 127.0.0.1.
type testCA struct {
	pool    *x509.CertPool
	caPEM   []byte
	leaf    tls.Certificate
	certPEM []byte
	keyPEM  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mediaserver test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{pool: x509.NewCertPool(),
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	ca.pool.AddCert(caCert)
	ca.leaf, err = tls.X509KeyPair(ca.certPEM, ca.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// config serves the certificate and trusts the CA, for both sides.
func (ca *testCA) config() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.leaf}, RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
}

// newTLSPeer connects a raw peer to the agent's TLS listener.
func newTLSPeer(t *testing.T, a *Agent, cfg *tls.Config) *peer {
	t.Helper()
	c, err := tls.Dial("tcp", a.TLSAddr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, tcp: c, msgs: make(chan sip.Message, 256), host: c.LocalAddr().String(), tp: "TLS"}
	p.wg.Add(1)
	go p.readTCP()
	t.Cleanup(p.close)
	return p
}

// srtpOffer is a phone's RTP/SAVP offer with the given crypto lines.
func srtpOffer(port int, crypto ...string) string {
	s := sdpOffer(port, "0 101", "a=rtpmap:101 telephone-event/8000")
	s = strings.Replace(s, "RTP/AVP", "RTP/SAVP", 1)
	for _, c := range crypto {
		s += "a=crypto:" + c + "\r\n"
	}
	return s
}

// cryptoOf returns the key of the a=crypto line with the given tag and
// suite in an SDP body.
func cryptoOf(t *testing.T, body []byte, tag, suite string) []byte {
	t.Helper()
	for _, l := range sdpLines(body, false) {
		if v, ok := strings.CutPrefix(l, "a=crypto:"+tag+" "+suite+" inline:"); ok {
			k, err := base64.StdEncoding.DecodeString(v)
			if err != nil || len(k) != 30 {
				t.Fatalf("crypto key %q: %v", v, err)
			}
			return k
		}
	}
	t.Fatalf("no a=crypto:%s %s in\n%s", tag, suite, body)
	return nil
}

func TestTLSInboundCall(t *testing.T) {
	ca := newTestCA(t)
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, TLS: ca.config(), TLSAddr: "127.0.0.1:0"}, agentOpts{})
	if a.TLSAddr().Port() == 0 || a.TLSAddr().Port() == a.TCPAddr().Port() {
		t.Fatalf("TLS address %v", a.TLSAddr())
	}
	p := newTLSPeer(t, a, &tls.Config{RootCAs: ca.pool})
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0"))
	p.expect(100)
	res := p.expect(200)
	tlsPort := a.TLSAddr().Port()
	ct := res.Contact()
	if ct == nil {
		t.Fatal("no Contact")
	}
	if tpParam, _ := ct.Address.UriParams.Get("transport"); ct.Address.Port != int(tlsPort) || !strings.EqualFold(tpParam, "tls") {
		t.Fatalf("Contact %v", ct)
	}
	d.established(res)
	c := app.call(t)
	if c.Transport() != "TLS" {
		t.Fatalf("Transport %q", c.Transport())
	}
	d.ack(1, "")
	app.rec.expect("ack")
	// Our BYE goes back over the caller's TLS connection, Via TLS.
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	bye := p.request()
	if bye.Method != sip.BYE || bye.Via().Transport != "TLS" || bye.Via().Port != int(tlsPort) {
		t.Fatalf("BYE %s Via %s", bye.StartLine(), bye.Via().Value())
	}
	p.reply(bye, 200, "", nil, "")

	// An untrusted client certificate is not asked for; a client that
	// does not trust us fails its handshake and is counted.
	if _, err := tls.Dial("tcp", a.TLSAddr().String(), &tls.Config{RootCAs: x509.NewCertPool()}); err == nil {
		t.Fatal("handshake with an unknown CA succeeded")
	}
	waitFor(t, "handshake failure counted", func() bool { return a.Stats().TLSHandshakeFailed == 1 })
}

// tlsAgents starts a callee and a caller with TLS listeners and SRTP mode.
func tlsAgents(t *testing.T, mode SRTPMode) (caller, callee *Agent, app *inboundApp, ca *testCA) {
	t.Helper()
	ca = newTestCA(t)
	app = newInboundApp(t)
	answerAll(app)
	callee = startAgent(t, Config{OnInvite: app.OnInvite, TLS: ca.config(), TLSAddr: "127.0.0.1:0", SRTP: mode}, agentOpts{})
	caller = startAgent(t, Config{TLS: ca.config(), TLSAddr: "127.0.0.1:0", SRTP: mode}, agentOpts{})
	return caller, callee, app, ca
}

func TestTLSAgentToAgentSRTPRequired(t *testing.T) {
	caller, callee, app, _ := tlsAgents(t, SRTPRequired)
	rec := newRecorder(t)
	oc := invite(t, caller, "sips:bob@"+callee.TLSAddr().String(), rec)
	ans := rec.expect("answer").media
	c := app.call(t)
	app.rec.expect("ack")
	if c.Transport() != "TLS" || !strings.HasPrefix(c.RequestURI(), "sips:") {
		t.Fatalf("callee saw %s over %s", c.RequestURI(), c.Transport())
	}
	in := c.c
	in.mu.Lock()
	remote := in.remote
	in.mu.Unlock()
	if ans.SRTP == nil || remote.SRTP == nil {
		t.Fatalf("no SRTP: caller %+v callee %+v", ans.SRTP, remote.SRTP)
	}
	if ans.SRTP.Suite != SRTPSuite80 || !bytes.Equal(ans.SRTP.Local, remote.SRTP.Remote) ||
		!bytes.Equal(ans.SRTP.Remote, remote.SRTP.Local) || bytes.Equal(ans.SRTP.Local, ans.SRTP.Remote) {
		t.Fatalf("keys do not match: caller %+v callee %+v", ans.SRTP, remote.SRTP)
	}
	if err := oc.Hangup(); err != nil {
		t.Fatal(err)
	}
	if e := app.rec.expect("end"); e.reason.Cause != EndBye {
		t.Fatalf("end %+v", e.reason)
	}
	// SRTP required: a target not reached over TLS is refused.
	if _, err := caller.Invite(t.Context(), InviteRequest{Target: "sip:bob@" + callee.UDPAddr().String(),
		Local: LocalMedia{Port: 42000}}, rec); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("plain target with SRTP required: %v", err)
	}
}

func TestTLSAgentToAgentPlain(t *testing.T) {
	// SRTP optional: our offers are plain RTP/AVP, even over TLS; a
	// ;transport=tls target with a sip: URI.
	caller, callee, app, _ := tlsAgents(t, SRTPOptional)
	rec := newRecorder(t)
	oc := invite(t, caller, "sip:bob@"+callee.TLSAddr().String()+";transport=tls", rec)
	ans := rec.expect("answer").media
	c := app.call(t)
	app.rec.expect("ack")
	if ans.SRTP != nil || c.Transport() != "TLS" {
		t.Fatalf("SRTP %+v over %s", ans.SRTP, c.Transport())
	}
	if err := c.Hangup(); err != nil { // the callee's BYE, over TLS to the caller
		t.Fatal(err)
	}
	if e := rec.expect("end"); e.reason.Cause != EndBye {
		t.Fatalf("end %+v", e.reason)
	}
	_ = oc
}

func TestTLSOutboundUntrustedServer(t *testing.T) {
	ca := newTestCA(t)
	callee := startAgent(t, Config{OnInvite: newInboundApp(t).OnInvite, TLS: ca.config(), TLSAddr: "127.0.0.1:0"}, agentOpts{})
	other := newTestCA(t) // the caller trusts another CA
	caller := startAgent(t, Config{TLS: &tls.Config{RootCAs: other.pool}}, agentOpts{})
	_, err := caller.Invite(t.Context(), InviteRequest{Target: "sips:bob@" + callee.TLSAddr().String(), Local: LocalMedia{Port: 42000}}, newRecorder(t))
	if !errors.Is(err, ErrTransport) {
		t.Fatalf("Invite to an untrusted server: %v", err)
	}
	// Without Config.TLS, TLS targets are refused.
	plain := startAgent(t, Config{}, agentOpts{})
	if _, err := plain.Invite(t.Context(), InviteRequest{Target: "sips:bob@127.0.0.1", Local: LocalMedia{Port: 42000}}, newRecorder(t)); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("sips without TLS: %v", err)
	}
}

func TestSRTPOfferOverTLS(t *testing.T) {
	ca := newTestCA(t)
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, TLS: ca.config(), TLSAddr: "127.0.0.1:0", SRTP: SRTPOptional}, agentOpts{})
	p := newTLSPeer(t, a, &tls.Config{RootCAs: ca.pool})
	peerKey := newSRTPKey()
	inline := base64.StdEncoding.EncodeToString(peerKey)
	offer := srtpOffer(30000,
		"1 AES_CM_128_HMAC_SHA1_80 inline:short",   // malformed: ignored
		"2 AES_256_CM_HMAC_SHA1_80 inline:"+inline, // unsupported suite: ignored
		"3 AES_CM_128_HMAC_SHA1_32 inline:"+inline+"|2^31",
		"4 AES_CM_128_HMAC_SHA1_80 inline:"+inline)
	d := p.newDialog()
	d.invite(offer)
	p.expect(100)
	res := p.expect(200)
	if !hasLine(res.Body(), "m=audio 40000 RTP/SAVP 0 101") {
		t.Fatalf("answer:\n%s", res.Body())
	}
	ours := cryptoOf(t, res.Body(), "3", SRTPSuite32)
	if strings.Count(string(res.Body()), "a=crypto:") != 1 || bytes.Equal(ours, peerKey) {
		t.Fatalf("answer crypto:\n%s", res.Body())
	}
	d.established(res)
	c := app.call(t)
	d.ack(1, "")
	app.rec.expect("ack")
	c.c.mu.Lock()
	m := c.c.remote
	c.c.mu.Unlock()
	if m.SRTP == nil || m.SRTP.Suite != SRTPSuite32 || !bytes.Equal(m.SRTP.Remote, peerKey) || !bytes.Equal(m.SRTP.Local, ours) {
		t.Fatalf("Media.SRTP %+v", m.SRTP)
	}

	// A re-INVITE with a new key keeps ours and reports theirs.
	newKey := newSRTPKey()
	d.req("INVITE", srtpOffer(30002, "3 AES_CM_128_HMAC_SHA1_32 inline:"+base64.StdEncoding.EncodeToString(newKey)))
	re := p.expect(200)
	if !bytes.Equal(cryptoOf(t, re.Body(), "3", SRTPSuite32), ours) {
		t.Fatalf("our key changed:\n%s", re.Body())
	}
	d.ack(d.cseq, "")
	if e := app.rec.expect("media"); e.media.SRTP == nil || !bytes.Equal(e.media.SRTP.Remote, newKey) || e.media.RTP.Port() != 30002 {
		t.Fatalf("OnMedia %+v", e.media)
	}
	// An offer whose only crypto is unusable: 488, session unchanged.
	d.req("INVITE", srtpOffer(30004, "5 AES_CM_128_HMAC_SHA1_80 inline:"+inline+"|1:4")) // MKI
	p.expect(488)
	d.ack(d.cseq, "")
	d.req("BYE", "")
	p.expect(200)
	app.rec.expect("end")

	// Optional: a plain offer over TLS is accepted, without keys.
	d2 := p.newDialog()
	d2.invite(sdpOffer(30010, "0"))
	p.expect(100)
	res = p.expect(200)
	if strings.Contains(string(res.Body()), "a=crypto") || !hasLine(res.Body(), "m=audio 40000 RTP/AVP 0") {
		t.Fatalf("plain answer:\n%s", res.Body())
	}
	d2.established(res)
	app.call(t)
	d2.ack(1, "")
	app.rec.expect("ack")
	d2.req("BYE", "")
	p.expect(200)
	app.rec.expect("end")
}

func TestSRTPNeverOverUDP(t *testing.T) {
	ca := newTestCA(t)
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, TLS: ca.config(), TLSAddr: "127.0.0.1:0", SRTP: SRTPOptional}, agentOpts{})
	inline := base64.StdEncoding.EncodeToString(newSRTPKey())
	for _, p := range []*peer{newUDPPeer(t, a), newTCPPeer(t, a)} {
		// Only an SAVP stream: 488.
		d := p.newDialog()
		branch := d.invite(srtpOffer(30000, "1 AES_CM_128_HMAC_SHA1_80 inline:"+inline))
		res := p.response(true)
		if res.StatusCode != 488 {
			t.Fatalf("SAVP over %s: %d", p.tp, res.StatusCode)
		}
		d.toTag = tagOf(res.To().Params)
		p.send("ACK "+d.ruri+" SIP/2.0", d.headers("ACK", 1, branch), "")
		// SAVP then AVP: the SAVP stream at port 0, no keys.
		offer := srtpOffer(30000, "1 AES_CM_128_HMAC_SHA1_80 inline:"+inline) + "m=audio 30002 RTP/AVP 0\r\n"
		d2, c := establish(t, p, app, offer)
		c.c.mu.Lock()
		m := c.c.remote
		c.c.mu.Unlock()
		_ = d2
		if m.SRTP != nil || m.RTP.Port() != 30002 {
			t.Fatalf("media over %s: %+v", p.tp, m)
		}
		d2.req("BYE", "")
		p.expect(200)
		app.rec.expect("end")
	}
}

func TestSRTPRequiredRefusesPlain(t *testing.T) {
	ca := newTestCA(t)
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, TLS: ca.config(), TLSAddr: "127.0.0.1:0", SRTP: SRTPRequired}, agentOpts{})
	inline := base64.StdEncoding.EncodeToString(newSRTPKey())
	tp := newTLSPeer(t, a, &tls.Config{RootCAs: ca.pool})
	if res := inviteAndAck(t, tp); res.StatusCode != 488 {
		t.Fatalf("plain over TLS: %d", res.StatusCode)
	}
	up := newUDPPeer(t, a)
	d := up.newDialog()
	branch := d.invite(srtpOffer(30000, "1 AES_CM_128_HMAC_SHA1_80 inline:"+inline))
	if res := up.response(true); res.StatusCode != 488 || !strings.Contains(res.GetHeader("Warning").Value(), "srtp") {
		t.Fatalf("SAVP over UDP: %d %v", res.StatusCode, res.GetHeader("Warning"))
	} else {
		d.toTag = tagOf(res.To().Params)
		up.send("ACK "+d.ruri+" SIP/2.0", d.headers("ACK", 1, branch), "")
	}
	// Offerless INVITE over TLS: our offer in the 200 is SAVP; the ACK
	// answers with a key.
	d2 := tp.newDialog()
	d2.invite("")
	tp.expect(100)
	res := tp.expect(200)
	ours := cryptoOf(t, res.Body(), "1", SRTPSuite80)
	if !hasLine(res.Body(), "m=audio 40000 RTP/SAVP 0 8 101") {
		t.Fatalf("offer:\n%s", res.Body())
	}
	d2.established(res)
	app.call(t)
	peerKey := newSRTPKey()
	d2.ack(1, srtpOffer(30020, "1 AES_CM_128_HMAC_SHA1_80 inline:"+base64.StdEncoding.EncodeToString(peerKey)))
	e := app.rec.expect("media")
	if e.media.SRTP == nil || !bytes.Equal(e.media.SRTP.Local, ours) || !bytes.Equal(e.media.SRTP.Remote, peerKey) {
		t.Fatalf("OnMedia %+v", e.media.SRTP)
	}
	app.rec.expect("ack")
	d2.req("BYE", "")
	tp.expect(200)
	app.rec.expect("end")
}

func TestConfigTLSErrors(t *testing.T) {
	_, err := NewAgent(Config{TLSAddr: "127.0.0.1:0", TLS: &tls.Config{}})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "TLS" {
		t.Fatalf("TLS listener without a certificate: %v", err)
	}
	if _, err := NewAgent(Config{SRTP: SRTPRequired}); err == nil {
		t.Fatal("SRTP without TLS accepted")
	}
	a, err := NewAgent(Config{ListenAddr: "127.0.0.1:0", TLS: &tls.Config{ServerName: "x"}, SRTP: SRTPOptional,
		AllowedSources: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8"), netip.MustParsePrefix("::ffff:192.0.2.0/120")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.cfg.AllowedSources; got[0] != netip.MustParsePrefix("10.0.0.0/8") || got[1] != netip.MustParsePrefix("192.0.2.0/24") {
		t.Fatalf("prefixes %v", got)
	}
	_ = a.Close()
}
