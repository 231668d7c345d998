package mediaserver_test

// Secure calls end to end (DESIGN.md decision 21): SIP over TLS with SDES-SRTP
// between our test phones and the server, one SRTP context per leg, and the
// clean refusals of RTP/SAVP and plain offers. The baresip test at the end
// checks the same against a foreign TLS+SRTP client.
//
// Ports: every server of this file takes its RTP ports from 59000-59999;
// baresip uses SIP 25200 (UDP, TCP; TLS on 25201), ctrl_tcp 25210 and RTP
// 27200-27219. Everything else is 127.0.0.1:0.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/internal/interop"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
	"github.com/mediaserver-go/mediaserver/sip"
	"github.com/zaf/g711"
)

const secureRTPMin, secureRTPMax = 59000, 59999

// The baresip of TestBaresipSecureForward.
const (
	baresipSIPPort, baresipCtrlPort     = 25200, 25210 // TLS on 25201
	baresipRTPMin, baresipRTPMax        = 27200, 27219
	baresipHz, baresipPhoneHz           = 600, 1800
	baresipMinHeard                     = time.Second
	baresipHeardShare, baresipEchoShare = 0.5, 0.05
)

// secureCA is a certificate authority made for one test, with a
// certificate for 127.0.0.1 that it signed. The server and the phones all
// use that certificate and trust the CA.
type secureCA struct {
	pool  *x509.CertPool
	caPEM []byte
	leaf  tls.Certificate
}

func newSecureCA(t *testing.T) *secureCA {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "secure_test CA"},
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
	ca := &secureCA{
		pool:  x509.NewCertPool(),
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		leaf:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
	ca.pool.AddCert(caCert)
	return ca
}

// config serves the CA's certificate and trusts the CA.
func (ca *secureCA) config() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.leaf}, RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
}

// secureServer starts a server with RTP ports in 59000-59999, TLS with
// ca's certificate when ca is not nil, and mode.
func secureServer(t *testing.T, h mediaserver.Handler, ca *secureCA, mode sip.SRTPMode) *mediaserver.Server {
	t.Helper()
	return startServer(t, h, func(c *mediaserver.Config) {
		c.RTPPortMin, c.RTPPortMax = secureRTPMin, secureRTPMax
		if ca != nil {
			c.TLS, c.TLSAddr = ca.config(), "127.0.0.1:0"
		}
		c.SRTP = mode
	})
}

// withTLS gives a phone TLS with ca's certificate, and SRTP if srtp.
func withTLS(ca *secureCA, srtp bool) func(*mediaservertest.PhoneConfig) {
	return func(c *mediaservertest.PhoneConfig) { c.TLS, c.SRTP = ca.config(), srtp }
}

// withSRTP makes a phone SRTP (over whatever transport it dials).
func withSRTP(c *mediaservertest.PhoneConfig) { c.SRTP = true }

// sdpCryptoKey returns the key of the first a=crypto line of an SDP, nil
// when there is none.
func sdpCryptoKey(t *testing.T, sdp string) []byte {
	t.Helper()
	for l := range strings.Lines(sdp) {
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=crypto:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) < 3 {
			t.Fatalf("crypto line %q", l)
		}
		inline, _, _ := strings.Cut(strings.TrimPrefix(f[2], "inline:"), "|")
		k, err := base64.StdEncoding.DecodeString(inline)
		if err != nil || len(k) != 30 {
			t.Fatalf("crypto line %q: %v", l, err)
		}
		return k
	}
	return nil
}

// waitMorePackets waits until c has received n more packets, so that
// whatever was to arrive after an event had time to.
func waitMorePackets(ctx context.Context, t *testing.T, c *mediaservertest.Call, n uint64) {
	t.Helper()
	want := c.Stats().PacketsReceived + n
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for c.Stats().PacketsReceived < want {
		select {
		case <-ctx.Done():
			t.Fatalf("%v: %d packets received, want %d", c, c.Stats().PacketsReceived, want)
		case <-tick.C:
		}
	}
}

// checkSecureLeg checks what a phone's call negotiated with the server.
func checkSecureLeg(t *testing.T, who string, c *mediaservertest.Call, transport string, srtp bool) {
	t.Helper()
	if c.Transport() != transport || c.SRTP() != srtp {
		t.Errorf("%s's call: transport %s, SRTP %v; want %s, %v", who, c.Transport(), c.SRTP(), transport, srtp)
	}
	wantProto := "RTP/AVP"
	if srtp {
		wantProto = "RTP/SAVP"
	}
	for _, sdp := range []string{c.LocalSDP(), c.RemoteSDP()} {
		if !strings.Contains(sdp, " "+wantProto+" ") || (sdpCryptoKey(t, sdp) != nil) != srtp {
			t.Errorf("%s's SDP is not %s:\n%s", who, wantProto, sdp)
		}
	}
	if st := c.Stats(); st.SRTPAuthFailures != 0 || st.Malformed != 0 {
		t.Errorf("%s: %d SRTP authentication failures, %d malformed packets", who, st.SRTPAuthFailures, st.Malformed)
	}
}

// TestSecureCalls: phone A calls the server, the Handler forwards the call
// to phone B, each leg over its own transport and media profile. Both hear
// each other's tone, RFC 4733 digits reach the other side once each way
// (over SRTP where the leg is SRTP: the relay decrypts and re-encrypts per
// leg), each SRTP leg has its own keys, and the hangup reaches the other
// side.
func TestSecureCalls(t *testing.T) {
	ca := newSecureCA(t)
	type leg struct {
		tls, srtp bool
	}
	for _, tc := range []struct {
		name   string
		mode   sip.SRTPMode
		a, b   leg
		target func(b *mediaservertest.Phone) string // how the Handler names B
	}{
		{"srtp-both-sips", sip.SRTPRequired, leg{true, true}, leg{true, true},
			func(b *mediaservertest.Phone) string { return b.TLSURI() }},
		{"srtp-both-transport-tls", sip.SRTPRequired, leg{true, true}, leg{true, true},
			func(b *mediaservertest.Phone) string { return "sip:bob@" + b.TLSAddr().String() + ";transport=tls" }},
		{"srtp-to-plain-udp", sip.SRTPOptional, leg{true, true}, leg{false, false},
			func(b *mediaservertest.Phone) string { return b.URI() }},
		{"plain-udp-to-plain-tls", sip.SRTPOptional, leg{false, false}, leg{true, false},
			func(b *mediaservertest.Phone) string { return b.TLSURI() }},
		{"plain-tls-no-srtp-configured", sip.SRTPOff, leg{true, false}, leg{true, false},
			func(b *mediaservertest.Phone) string { return b.TLSURI() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 40*time.Second)
			phone := func(name string, hz float64, l leg) *mediaservertest.Phone {
				if l.tls {
					return newPhone(t, name, hz, withTLS(ca, l.srtp))
				}
				if l.srtp {
					return newPhone(t, name, hz, withSRTP)
				}
				return newPhone(t, name, hz)
			}
			b := phone("bob", 1000, tc.b)
			a := phone("alice", 440, tc.a)
			h := callTo(tc.target(b))
			srv := secureServer(t, h, ca, tc.mode)
			target, transport := serverURI(srv, "secure"), "udp"
			if tc.a.tls {
				target, transport = "sips:secure@"+srv.SIPTLSAddr().String(), "tls"
			}
			ca1, err := a.Dial(ctx, target, mediaservertest.DialOptions{})
			if err != nil {
				t.Fatalf("Dial %s: %v", target, err)
			}
			cb1, err := b.Incoming(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ca1.WaitHeard(ctx, 1000, 0.5); err != nil {
				t.Errorf("A does not hear B: %v", err)
			}
			if err := cb1.WaitHeard(ctx, 440, 0.5); err != nil {
				t.Errorf("B does not hear A: %v", err)
			}
			if s := ca1.HeardSince(time.Now().Add(-500 * time.Millisecond)).Share(440); s > 0.05 {
				t.Errorf("A hears its own tone (share %.2f)", s)
			}
			if err := ca1.SendDigits(ctx, "159#", mediaservertest.DTMFRFC4733); err != nil {
				t.Fatal(err)
			}
			if err := cb1.SendDigits(ctx, "7", mediaservertest.DTMFRFC4733); err != nil {
				t.Fatal(err)
			}
			if got, err := cb1.WaitDigits(ctx, 4, mediaservertest.DTMFRFC4733); err != nil || got != "159#" {
				t.Errorf("B got digits %q, %v; want 159#", got, err)
			}
			if got, err := ca1.WaitDigits(ctx, 1, mediaservertest.DTMFRFC4733); err != nil || got != "7" {
				t.Errorf("A got digits %q, %v; want 7", got, err)
			}
			waitMorePackets(ctx, t, cb1, 25) // 0.5 s more: no digit arrives twice
			if a, b := ca1.ReceivedDigits(), cb1.ReceivedDigits(); a != "7" || b != "159#" {
				t.Errorf("digits after a pause: A %q, B %q", a, b)
			}
			checkSecureLeg(t, "A", ca1, transport, tc.a.srtp)
			bTransport := "udp"
			if tc.b.tls {
				bTransport = "tls"
			}
			checkSecureLeg(t, "B", cb1, bTransport, tc.b.srtp)
			if tc.a.srtp && tc.b.srtp {
				// One SRTP context per leg: four different keys.
				keys := [][]byte{sdpCryptoKey(t, ca1.LocalSDP()), sdpCryptoKey(t, ca1.RemoteSDP()),
					sdpCryptoKey(t, cb1.LocalSDP()), sdpCryptoKey(t, cb1.RemoteSDP())}
				for i := range keys {
					for j := range i {
						if bytes.Equal(keys[i], keys[j]) {
							t.Errorf("keys %d and %d are equal (A local, A remote, B local, B remote)", j, i)
						}
					}
				}
			}

			if err := ca1.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			if r, err := cb1.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
				t.Fatalf("B ended with %v, %v; want remote BYE", r, err)
			}
			h.wait(ctx, t, "sessionCompleted")
			wantEvents(t, h.Events(), "newCall", "callAnswered", "callEvent:callingPartyDrop:hangup", "sessionCompleted")
			waitSessions(ctx, t, srv, 0)
		})
	}
}

// TestSecureReinvites: over TLS with SRTP on both legs, a delayed offer
// (the server offers RTP/SAVP in its 200, A answers in the ACK), a hold and
// resume, a re-INVITE of B that moves its RTP to a new port and an offerless
// re-INVITE all keep two-way audio and digits over SRTP, without a packet
// failing authentication; B's BYE reaches A over its TLS connection.
func TestSecureReinvites(t *testing.T) {
	ctx := testCtx(t, 40*time.Second)
	ca := newSecureCA(t)
	b := newPhone(t, "bob", 1000, withTLS(ca, true))
	a := newPhone(t, "alice", 440, withTLS(ca, true))
	h := callTo(b.TLSURI())
	srv := secureServer(t, h, ca, sip.SRTPRequired)
	ca1, err := a.Dial(ctx, "sips:secure@"+srv.SIPTLSAddr().String(), mediaservertest.DialOptions{NoSDP: true})
	if err != nil {
		t.Fatal(err)
	}
	cb1, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hear := func(step string) {
		t.Helper()
		if err := ca1.WaitHeard(ctx, 1000, 0.5); err != nil {
			t.Errorf("%s: A does not hear B: %v", step, err)
		}
		if err := cb1.WaitHeard(ctx, 440, 0.5); err != nil {
			t.Errorf("%s: B does not hear A: %v", step, err)
		}
	}
	hear("delayed offer")
	if err := ca1.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cb1.WaitSilence(ctx, 300*time.Millisecond); err != nil {
		t.Errorf("A on hold: %v", err)
	}
	if err := ca1.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	hear("resume")
	old := cb1.Stats().LocalRTP
	if err := cb1.Reinvite(ctx, mediaservertest.ReinviteOptions{RTPAddr: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if cb1.Stats().LocalRTP == old {
		t.Fatal("B's RTP did not move")
	}
	hear("B moved")
	if err := ca1.Reinvite(ctx, mediaservertest.ReinviteOptions{NoSDP: true}); err != nil {
		t.Fatal(err)
	}
	hear("offerless re-INVITE")
	if err := ca1.SendDigits(ctx, "42", mediaservertest.DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	if got, err := cb1.WaitDigits(ctx, 2, mediaservertest.DTMFRFC4733); err != nil || got != "42" {
		t.Errorf("B got digits %q, %v; want 42", got, err)
	}
	checkSecureLeg(t, "A", ca1, "tls", true)
	checkSecureLeg(t, "B", cb1, "tls", true)
	if err := cb1.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := ca1.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Fatalf("A ended with %v, %v; want remote BYE", r, err)
	}
	waitSessions(ctx, t, srv, 0)
}

// TestSecureEarlyMediaAndCancel: B rings with early media over TLS+SRTP;
// the server, answering A first, relays it to A's SRTP leg; A hangs up and
// the server cancels B over TLS.
func TestSecureEarlyMediaAndCancel(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	ca := newSecureCA(t)
	b := newPhone(t, "bob", 1000, withTLS(ca, true), func(c *mediaservertest.PhoneConfig) {
		c.RingFor, c.EarlyMedia = time.Hour, true
	})
	a := newPhone(t, "alice", 440, withTLS(ca, true))
	h := callTo(b.TLSURI())
	srv := secureServer(t, h, ca, sip.SRTPRequired)
	ca1, err := a.Dial(ctx, "sips:secure@"+srv.SIPTLSAddr().String(), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca1.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Errorf("A does not hear B's early media: %v", err)
	}
	if err := ca1.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	cb1, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := cb1.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteCancel || cb1.StatusCode() != 487 {
		t.Errorf("B ended with %v %d, %v; want remote-cancel 487", r, cb1.StatusCode(), err)
	}
	checkSecureLeg(t, "A", ca1, "tls", true)
	waitSessions(ctx, t, srv, 0)
}

// TestSRTPInjectedRTPRefused: plain RTP sent to the server's port of an SRTP
// leg by a third party is not relayed, and the server neither latches onto
// its source nor stops sending to the phone.
func TestSRTPInjectedRTPRefused(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	ca := newSecureCA(t)
	b := newPhone(t, "bob", 1000, withTLS(ca, true))
	a := newPhone(t, "alice", 440, withTLS(ca, true))
	h := callTo(b.TLSURI())
	srv := secureServer(t, h, ca, sip.SRTPRequired)
	ca1, err := a.Dial(ctx, "sips:secure@"+srv.SIPTLSAddr().String(), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb1, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb1.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatal(err)
	}
	serverPort := sdpAudioPort(t, ca1.RemoteSDP())
	attacker, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	start := time.Now()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: serverPort}
	for i := range 100 { // 2 s of a 700 Hz tone, as plain PCMU
		pkt := make([]byte, 12, 12+160)
		pkt[0], pkt[1] = 0x80, 0
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(160*i))
		binary.BigEndian.PutUint32(pkt[8:], 0xbad)
		for k := range 160 {
			pkt = append(pkt, g711.EncodeUlawFrame(int16(9000*math.Sin(2*math.Pi*700*float64(160*i+k)/8000))))
		}
		if _, err := attacker.WriteToUDP(pkt, dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := attacker.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _, err := attacker.ReadFromUDP(make([]byte, 2000)); err == nil {
		t.Errorf("the server sent %d bytes to the attacker: it latched onto unauthenticated RTP", n)
	}
	if err := ca1.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Errorf("A no longer hears B: %v", err)
	}
	if s := cb1.HeardSince(start).Share(700); s > 0.01 {
		t.Errorf("B hears the injected tone: share %.2f", s)
	}
	checkSecureLeg(t, "A", ca1, "tls", true)
	checkSecureLeg(t, "B", cb1, "tls", true)
}

// sdpAudioPort returns the port of the first m=audio line of an SDP.
func sdpAudioPort(t *testing.T, sdp string) int {
	t.Helper()
	for l := range strings.Lines(sdp) {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "m=audio" {
			if p, err := strconv.Atoi(f[1]); err == nil {
				return p
			}
		}
	}
	t.Fatalf("no m=audio line in\n%s", sdp)
	return 0
}

// TestSRTPRequiredRefusesPlain: with SRTP required, a plain offer is
// refused with 488 over UDP and over TLS, and so is an RTP/SAVP offer over
// UDP (keys never travel in clear); the server then still takes a call over
// TLS with SRTP.
func TestSRTPRequiredRefusesPlain(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	ca := newSecureCA(t)
	b := newPhone(t, "bob", 1000, withTLS(ca, true))
	h := callTo(b.TLSURI())
	srv := secureServer(t, h, ca, sip.SRTPRequired)
	for _, tc := range []struct {
		name   string
		mod    func(*mediaservertest.PhoneConfig)
		target string
	}{
		{"plain-udp", func(*mediaservertest.PhoneConfig) {}, serverURI(srv, "secure")},
		{"savp-udp", withSRTP, serverURI(srv, "secure")},
		{"plain-tls", withTLS(ca, false), "sips:secure@" + srv.SIPTLSAddr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newPhone(t, "alice", 440, tc.mod)
			_, err := a.Dial(ctx, tc.target, mediaservertest.DialOptions{})
			var se *mediaservertest.StatusError
			if !errors.As(err, &se) || se.Code != 488 {
				t.Fatalf("Dial %s: %v, want 488", tc.target, err)
			}
		})
	}
	waitSessions(ctx, t, srv, 0)
	a := newPhone(t, "alice", 440, withTLS(ca, true))
	ca1, err := a.Dial(ctx, "sips:secure@"+srv.SIPTLSAddr().String(), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatalf("a TLS+SRTP call after the refusals: %v", err)
	}
	if err := ca1.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatal(err)
	}
}

// TestSRTPOffRefusesSAVP: a server without SRTP answers an RTP/SAVP offer
// with 488 when it is the only stream, over UDP and over TLS, and with that
// stream at port 0 next to a usable RTP/AVP one, which then carries the
// call.
func TestSRTPOffRefusesSAVP(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	ca := newSecureCA(t)
	b := newPhone(t, "bob", 1000)
	h := callTo(b.URI())
	srv := secureServer(t, h, ca, sip.SRTPOff)
	for _, tc := range []struct {
		name   string
		mod    func(*mediaservertest.PhoneConfig)
		target string
	}{
		{"udp", withSRTP, serverURI(srv, "secure")},
		{"tls", withTLS(ca, true), "sips:secure@" + srv.SIPTLSAddr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newPhone(t, "alice", 440, tc.mod)
			_, err := a.Dial(ctx, tc.target, mediaservertest.DialOptions{})
			var se *mediaservertest.StatusError
			if !errors.As(err, &se) || se.Code != 488 {
				t.Fatalf("Dial %s: %v, want 488", tc.target, err)
			}
		})
	}
	t.Run("savp-and-avp", func(t *testing.T) {
		rtpConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer rtpConn.Close()
		rtpPort := rtpConn.LocalAddr().(*net.UDPAddr).Port
		key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 30))
		offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
			fmt.Sprintf("m=audio %d RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", rtpPort+2, key) +
			fmt.Sprintf("m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", rtpPort)
		rc := newRawCall(t, srv)
		res := rc.invite(offer)
		if code := rawStatusCode(res); code != 200 {
			t.Fatalf("two-stream offer: %d\n%s", code, res)
		}
		body := res[strings.Index(res, "\r\n\r\n")+4:]
		var media []string
		for l := range strings.Lines(body) {
			if strings.HasPrefix(l, "m=") {
				media = append(media, strings.TrimSpace(l))
			}
		}
		if len(media) != 2 || !strings.HasPrefix(media[0], "m=audio 0 RTP/SAVP") ||
			!strings.Contains(media[1], " RTP/AVP ") || strings.HasPrefix(media[1], "m=audio 0 ") || strings.Contains(body, "a=crypto") {
			t.Fatalf("answer:\n%s", body)
		}
		rc.ack(res)
		// The RTP/AVP stream carries B's tone.
		if err := rtpConn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1600)
		for n := 0; n < 10; n++ {
			k, err := rtpConn.Read(buf)
			if err != nil {
				t.Fatalf("RTP on the RTP/AVP stream: %d packets, %v", n, err)
			}
			if k != 12+160 || buf[1]&0x7f != 0 {
				n--
			}
		}
		if code := rawStatusCode(rc.bye(res)); code != 200 {
			t.Errorf("BYE: %d", code)
		}
		h.wait(ctx, t, "sessionCompleted")
	})
	waitSessions(ctx, t, srv, 0)
}

// rawCall is a hand-written SIP dialog over UDP, for offers a phone does
// not make.
type rawCall struct {
	t      *testing.T
	srv    *mediaserver.Server
	conn   *net.UDPConn
	callID string
	tag    string
	from   string
}

func newRawCall(t *testing.T, srv *mediaserver.Server) *rawCall {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	return &rawCall{t: t, srv: srv, conn: c, callID: id + "@raw", tag: id,
		from: "<sip:raw@" + c.LocalAddr().String() + ">;tag=" + id}
}

// request sends a request and returns the final response (retransmitting
// over UDP like a UAC, every 500 ms).
func (rc *rawCall) request(method, uri, to string, cseq int, body string, wantResponse bool) string {
	rc.t.Helper()
	branch := "z9hG4bK" + strconv.FormatInt(time.Now().UnixNano(), 36)
	msg := method + " " + uri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + rc.conn.LocalAddr().String() + ";branch=" + branch + "\r\n" +
		"From: " + rc.from + "\r\nTo: " + to + "\r\nCall-ID: " + rc.callID + "\r\n" +
		"CSeq: " + strconv.Itoa(cseq) + " " + method + "\r\n" +
		"Contact: <sip:raw@" + rc.conn.LocalAddr().String() + ">\r\nMax-Forwards: 70\r\n"
	if body != "" {
		msg += "Content-Type: application/sdp\r\n"
	}
	msg += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 65536)
	for time.Now().Before(deadline) {
		if _, err := rc.conn.WriteToUDPAddrPort([]byte(msg), rc.srv.SIPAddr()); err != nil {
			rc.t.Fatal(err)
		}
		if !wantResponse {
			return ""
		}
		retransmit := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(retransmit) {
			_ = rc.conn.SetReadDeadline(retransmit)
			n, err := rc.conn.Read(buf)
			if err != nil {
				break
			}
			res := string(buf[:n])
			if strings.Contains(res, "CSeq: "+strconv.Itoa(cseq)+" "+method) && rawStatusCode(res) >= 200 {
				return res
			}
			if rawStatusCode(res) >= 100 {
				retransmit = time.Now().Add(5 * time.Second) // a provisional response stops retransmissions
			}
		}
	}
	rc.t.Fatalf("no final response to %s", method)
	return ""
}

func (rc *rawCall) invite(sdp string) string {
	return rc.request("INVITE", "sip:secure@"+rc.srv.SIPAddr().String(), "<sip:secure@"+rc.srv.SIPAddr().String()+">", 1, sdp, true)
}

// ack acknowledges a 2xx: a new transaction to the Contact of res.
func (rc *rawCall) ack(res string) {
	rc.request("ACK", rawContact(rc.t, res), rawHeader(res, "To"), 1, "", false)
}

func (rc *rawCall) bye(res string) string {
	return rc.request("BYE", rawContact(rc.t, res), rawHeader(res, "To"), 2, "", true)
}

// rawStatusCode returns the status code of a response, 0 for anything else.
func rawStatusCode(msg string) int {
	f := strings.Fields(msg)
	if len(f) < 2 || f[0] != "SIP/2.0" {
		return 0
	}
	code, _ := strconv.Atoi(f[1])
	return code
}

// rawHeader returns the value of the header name in msg.
func rawHeader(msg, name string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rawContact returns the URI of the Contact of msg.
func rawContact(t *testing.T, msg string) string {
	t.Helper()
	c := rawHeader(msg, "Contact")
	i, j := strings.Index(c, "<"), strings.Index(c, ">")
	if i < 0 || j < i {
		t.Fatalf("Contact %q", c)
	}
	return c[i+1 : j]
}

// TestBaresipSecureForward: baresip, with TLS and mandatory SDES-SRTP
// (mediaenc=srtp-mand), calls the server (TLS, SRTP required); the Handler
// forwards the call to one of our phones over TLS with SRTP. The phone hears
// baresip's tone and gets its RFC 4733 digit; baresip reports the phone's
// digit and, by its sndfile recording, heard the phone's tone and not its
// own. The phone hangs up and baresip gets the BYE over TLS.
func TestBaresipSecureForward(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test with baresip: skipped with -short")
	}
	interop.RequireTool(t, "baresip", "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	interop.LockPorts(ctx, t, "secure-baresip")
	dir := t.TempDir()
	ca := newSecureCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	bob := newPhone(t, "bob", baresipPhoneHz, withTLS(ca, true))
	h := callTo(bob.TLSURI())
	srv := secureServer(t, h, ca, sip.SRTPRequired)
	alice := interop.StartSecureBaresip(ctx, t, interop.Baresip{
		User: "alice", Dir: dir, ToneHz: baresipHz,
		SIPPort: baresipSIPPort, CtrlPort: baresipCtrlPort, RTPMin: baresipRTPMin, RTPMax: baresipRTPMax,
	}, interop.BaresipSecurity{CAFile: caFile})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("baresip's events: %v\ncallbacks: %v", alice.Ctrl.Events(), h.Events())
		}
	})

	target := fmt.Sprintf("sip:secure@%s;transport=tls", srv.SIPTLSAddr())
	if _, err := alice.Ctrl.Command(ctx, "dial", target); err != nil {
		t.Fatal(err)
	}
	cb, err := bob.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Transport() != "tls" || !cb.SRTP() {
		t.Fatalf("bob's call: transport %s, SRTP %v", cb.Transport(), cb.SRTP())
	}
	for _, ev := range []string{"CALL_ESTABLISHED", "CALL_RTPESTAB"} { // RTPESTAB: SRTP arrived and decrypted
		if _, err := alice.Ctrl.WaitEvent(ctx, ev, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := cb.WaitHeard(ctx, baresipHz, baresipHeardShare); err != nil {
		t.Errorf("bob does not hear baresip: %v", err)
	}
	if _, err := alice.Ctrl.Command(ctx, "sndcode", "5"); err != nil {
		t.Fatal(err)
	}
	if got, err := cb.WaitDigits(ctx, 1, mediaservertest.DTMFRFC4733); err != nil || got != "5" {
		t.Errorf("bob got digits %q, %v; want 5", got, err)
	}
	if err := cb.SendDigits(ctx, "7", mediaservertest.DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Ctrl.WaitEvent(ctx, "CALL_DTMF_START", "7"); err != nil {
		t.Errorf("baresip did not get bob's digit: %v", err)
	}
	waitBaresipRecorded(ctx, t, alice, 3*time.Second)
	if st := cb.Stats(); st.SRTPAuthFailures != 0 || st.Malformed != 0 {
		t.Errorf("bob: %d SRTP authentication failures, %d malformed", st.SRTPAuthFailures, st.Malformed)
	}
	if err := cb.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if ev, err := alice.Ctrl.WaitEvent(ctx, "CALL_CLOSED", ""); err != nil {
		t.Error(err)
	} else if ev.Param != "Connection reset by peer" {
		t.Errorf("baresip's call closed with %q, want our BYE (Connection reset by peer)", ev.Param)
	}
	h.wait(ctx, t, "sessionCompleted")
	waitSessions(ctx, t, srv, 0)

	alice.Quit(10 * time.Second) // closes sndfile's recordings
	// baresip's SIP trace (-s): the dialog ran over TLS, and both SDPs are
	// RTP/SAVP with keys (with srtp-mand it refuses anything else anyway).
	trace, err := os.ReadFile(alice.Proc.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Via: SIP/2.0/TLS ", "BYE sip:", " RTP/SAVP ", "a=crypto:"} {
		if !bytes.Contains(trace, []byte(want)) {
			t.Errorf("baresip's SIP trace has no %q", want)
		}
	}
	if bytes.Contains(trace, []byte(" RTP/AVP ")) {
		t.Error("baresip's SIP trace has a plain RTP/AVP stream")
	}
	samples, err := alice.HeardSamples()
	if err != nil {
		t.Fatal(err)
	}
	desc := interop.Describe(samples, baresipPhoneHz, baresipHz)
	switch {
	case len(samples) < int(baresipMinHeard.Seconds()*interop.SampleRate):
		t.Errorf("baresip heard too little: %s", desc)
	case interop.Share(samples, baresipPhoneHz) < baresipHeardShare:
		t.Errorf("baresip does not hear bob's %d Hz: %s", baresipPhoneHz, desc)
	case interop.Share(samples, baresipHz) >= baresipEchoShare:
		t.Errorf("baresip hears its own %d Hz: %s", baresipHz, desc)
	default:
		t.Logf("baresip heard %s", desc)
	}
}

// waitBaresipRecorded polls until ua's recording of what it hears holds d
// of audio.
func waitBaresipRecorded(ctx context.Context, t *testing.T, ua *interop.UA, d time.Duration) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
	for {
		var samples []int16
		if samples, err = ua.HeardSamples(); err == nil && len(samples) >= int(d.Seconds()*interop.SampleRate) {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%s did not record %v of what it hears: %v", ua.URI, d, err)
		}
	}
}
