package mediaservertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
	"go.uber.org/goleak"
)

// testCA is a certificate authority made for one test, with a certificate
// for 127.0.0.1 that it signed.
type testCA struct {
	pool *x509.CertPool
	leaf tls.Certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mediaservertest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{pool: x509.NewCertPool(), leaf: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
	ca.pool.AddCert(caCert)
	return ca
}

// config serves the CA's certificate and trusts the CA.
func (ca *testCA) config() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.leaf}, RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
}

// dialTo has a dial target, a URI of b, and returns both ends of the
// answered call.
func dialTo(t *testing.T, a, b *Phone, target string) (*Call, *Call) {
	t.Helper()
	ctx := testCtx(t)
	ca, err := a.Dial(ctx, target, DialOptions{})
	if err != nil {
		t.Fatalf("Dial %s: %v", target, err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatalf("Incoming: %v", err)
	}
	return ca, cb
}

// cryptoKey returns the key of the first a=crypto line of an SDP.
func cryptoKey(t *testing.T, sdp string) sdpCrypto {
	t.Helper()
	for l := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=crypto:"); ok {
			c, ok := parseCrypto(v)
			if !ok {
				t.Fatalf("unusable crypto line %q", l)
			}
			return c
		}
	}
	t.Fatalf("no a=crypto line in\n%s", sdp)
	return sdpCrypto{}
}

// TestTLSSRTPCall: two phones call each other over TLS with SDES-SRTP. Each
// hears the other's tone and gets the other's RFC 4733 digits once; each
// side has its own key; plain RTP injected by a third party is refused and
// not heard; a hold and resume (re-INVITEs over TLS) keeps the keys; the
// callee's BYE goes over TLS.
func TestTLSSRTPCall(t *testing.T) {
	ca := newTestCA(t)
	a := alice(t, PhoneConfig{TLS: ca.config(), SRTP: true})
	b := bob(t, PhoneConfig{TLS: ca.config(), SRTP: true})
	if !strings.HasPrefix(b.TLSURI(), "sips:bob@127.0.0.1:") || b.TLSAddr().Port() == b.Addr().Port() {
		t.Fatalf("TLSURI %q, TLSAddr %v, Addr %v", b.TLSURI(), b.TLSAddr(), b.Addr())
	}
	ca1, cb1 := dialTo(t, a, b, b.TLSURI())
	if ca1.Transport() != "tls" || cb1.Transport() != "tls" || !ca1.SRTP() || !cb1.SRTP() {
		t.Fatalf("transport %s/%s, SRTP %v/%v", ca1.Transport(), cb1.Transport(), ca1.SRTP(), cb1.SRTP())
	}
	if c := cb1.Header("Contact"); !strings.Contains(c, "sips:alice@127.0.0.1:") {
		t.Errorf("alice's Contact in a sips dialog: %q", c)
	}
	for _, sdp := range []string{ca1.LocalSDP(), cb1.LocalSDP()} {
		if !strings.Contains(sdp, "m=audio ") || !strings.Contains(sdp, " RTP/SAVP 0") ||
			!strings.Contains(sdp, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
			t.Errorf("SDP:\n%s", sdp)
		}
	}
	ka, kb := cryptoKey(t, ca1.LocalSDP()), cryptoKey(t, cb1.LocalSDP())
	if bytes.Equal(ka.key, kb.key) {
		t.Error("both sides use one key")
	}
	hearEachOther(t, ca1, cb1)
	ctx := testCtx(t)
	if err := ca1.SendDigits(ctx, "12#", DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	if err := cb1.SendDigits(ctx, "9", DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	if got, err := cb1.WaitDigits(ctx, 3, DTMFRFC4733); err != nil || got != "12#" {
		t.Errorf("bob got %q, %v; want 12#", got, err)
	}
	if got, err := ca1.WaitDigits(ctx, 1, DTMFRFC4733); err != nil || got != "9" {
		t.Errorf("alice got %q, %v; want 9", got, err)
	}

	// A third party sends plain RTP, a 1000 Hz tone, to bob's port.
	injected := injectPlainRTP(t, cb1.Stats().LocalRTP, 1000, 50)
	if err := waitFor(ctx, 10*time.Millisecond, func() bool { return cb1.Stats().SRTPAuthFailures >= uint64(injected) }); err != nil {
		t.Fatalf("bob counted %d SRTP failures, want %d", cb1.Stats().SRTPAuthFailures, injected)
	}
	if s := cb1.Heard().Last(2 * time.Second).Share(1000); s > 0.01 {
		t.Errorf("bob hears the injected plain RTP: share %.2f", s)
	}

	if err := ca1.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ca1.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if k := cryptoKey(t, ca1.LocalSDP()); !bytes.Equal(k.key, ka.key) || k.tag != ka.tag {
		t.Error("alice's key changed in a re-INVITE")
	}
	hearEachOther(t, ca1, cb1)
	sa, sb := ca1.Stats(), cb1.Stats()
	if sa.SRTPAuthFailures != 0 || sa.Malformed != 0 || sb.Malformed != 0 || sb.SRTPAuthFailures != uint64(injected) {
		t.Errorf("alice's stats %+v\nbob's stats %+v", sa, sb)
	}
	if got := cb1.ReceivedDigits(); got != "12#" {
		t.Errorf("bob's digits at the end: %q", got)
	}
	if err := cb1.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := ca1.WaitEnded(ctx); err != nil || r != EndRemoteBye {
		t.Errorf("alice's call: %v, %v", r, err)
	}
}

// injectPlainRTP sends n plain PCMU packets of a tone to dst from a new
// socket, and returns n.
func injectPlainRTP(t *testing.T, dst netip.AddrPort, hz float64, n int) int {
	t.Helper()
	c, err := net.Dial("udp4", dst.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tone := sine(160*n, hz, 0.3)
	for i := range n {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(160 * i), SSRC: 0xbad}}
		for _, v := range tone[160*i : 160*(i+1)] {
			p.Payload = append(p.Payload, g711.EncodeUlawFrame(v))
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestTLSTransportParam: a sip: target with ;transport=tls reaches the
// phone's TLS listener, and the Contact says ;transport=tls. Plain RTP.
func TestTLSTransportParam(t *testing.T) {
	ca := newTestCA(t)
	a := alice(t, PhoneConfig{TLS: ca.config()})
	b := bob(t, PhoneConfig{TLS: ca.config()})
	ca1, cb1 := dialTo(t, a, b, "sip:bob@"+b.TLSAddr().String()+";transport=tls")
	if cb1.Transport() != "tls" || ca1.SRTP() || strings.Contains(ca1.LocalSDP(), "a=crypto") {
		t.Fatalf("transport %s, SRTP %v", cb1.Transport(), ca1.SRTP())
	}
	if c := cb1.Header("Contact"); !strings.Contains(c, "sip:alice@"+a.TLSAddr().String()) ||
		!strings.Contains(c, "transport=tls") {
		t.Errorf("alice's Contact: %q", c)
	}
	hearEachOther(t, ca1, cb1)
	ctx := testCtx(t)
	if err := cb1.SendDigits(ctx, "5", DTMFInfo); err != nil { // bob's INFO over TLS
		t.Fatal(err)
	}
	if got := ca1.ReceivedInfoDigits(); got != "5" {
		t.Errorf("alice's INFO digits %q", got)
	}
}

// TestSRTPMismatch: a plain offer to an SRTP phone and an SRTP offer to a
// plain phone get 488; an SRTP phone calls another over plain UDP (the
// phones do not police the transport, so tests can check that servers do).
func TestSRTPMismatch(t *testing.T) {
	for _, tc := range []struct {
		name           string
		callerSRTP     bool
		calleeSRTP     bool
		wantCode       int
		wantSecureCall bool
	}{
		{"plain-to-srtp", false, true, 488, false},
		{"srtp-to-plain", true, false, 488, false},
		{"srtp-over-udp", true, true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := alice(t, PhoneConfig{SRTP: tc.callerSRTP})
			b := bob(t, PhoneConfig{SRTP: tc.calleeSRTP})
			ctx := testCtx(t)
			ca1, err := a.Dial(ctx, b.URI(), DialOptions{})
			cb1, ierr := b.Incoming(ctx)
			if ierr != nil {
				t.Fatal(ierr)
			}
			if tc.wantCode != 0 {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tc.wantCode {
					t.Fatalf("Dial: %v, want %d", err, tc.wantCode)
				}
				<-cb1.Ended()
				if !errors.Is(cb1.Err(), ErrSRTPMismatch) || cb1.SRTP() {
					t.Errorf("bob's call: %v, SRTP %v", cb1.Err(), cb1.SRTP())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ca1.SRTP() != tc.wantSecureCall || ca1.Transport() != "udp" {
				t.Errorf("SRTP %v over %s", ca1.SRTP(), ca1.Transport())
			}
			hearEachOther(t, ca1, cb1)
		})
	}
}

// TestTLSUntrustedPeer: a phone that does not trust the callee's
// certificate fails to dial it, and dialling TLS without PhoneConfig.TLS
// fails at once.
func TestTLSUntrustedPeer(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	b := bob(t, PhoneConfig{TLS: ca.config()})
	a := alice(t, PhoneConfig{TLS: other.config()})
	if _, err := a.Dial(testCtx(t), b.TLSURI(), DialOptions{}); err == nil {
		t.Error("Dial to an untrusted certificate succeeded")
	}
	plain := alice(t, PhoneConfig{})
	for _, target := range []string{b.TLSURI(), "sip:bob@" + b.TLSAddr().String() + ";transport=tls"} {
		if _, err := plain.Dial(testCtx(t), target, DialOptions{}); err == nil || !strings.Contains(err.Error(), "PhoneConfig.TLS") {
			t.Errorf("Dial %s without TLS: %v", target, err)
		}
	}
	if _, err := a.Dial(testCtx(t), b.TLSURI()+";transport=udp", DialOptions{}); err == nil {
		t.Error("a sips: target over UDP was dialled")
	}
	if _, err := StartPhone(PhoneConfig{TLS: &tls.Config{}}); err == nil {
		t.Error("a TLS phone without a certificate started")
	}
}

// TestCloseTLSCall closes phones with an SRTP call over TLS up and checks
// that nothing is left running.
func TestCloseTLSCall(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	a := NewPhone(t, PhoneConfig{User: "alice", ToneHz: aliceHz, TLS: ca.config(), SRTP: true})
	b := NewPhone(t, PhoneConfig{User: "bob", ToneHz: bobHz, TLS: ca.config(), SRTP: true})
	ca1, cb1 := dialTo(t, a, b, b.TLSURI())
	if err := cb1.WaitHeard(testCtx(t), aliceHz, 0.5); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if r := ca1.EndReason(); r != EndLocalBye {
		t.Errorf("alice's call: %v", r)
	}
	if r, err := cb1.WaitEnded(testCtx(t)); err != nil || r != EndRemoteBye {
		t.Errorf("bob's call: %v, %v", r, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
