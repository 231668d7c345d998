package sip

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// testKey is 30 bytes 0..29, base64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd".
var testKey = func() []byte {
	k := make([]byte, srtpKeyLen)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

func TestParseCrypto(t *testing.T) {
	inline := base64.StdEncoding.EncodeToString(testKey)
	tests := []struct {
		in    string
		tag   uint32
		suite string // "" when refused
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline, 1, SRTPSuite80},
		{"999999999 AES_CM_128_HMAC_SHA1_32 inline:" + inline, 999999999, SRTPSuite32},
		{"007 AES_CM_128_HMAC_SHA1_80 INLINE:" + inline, 7, SRTPSuite80},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "|2^31", 1, SRTPSuite80},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "|1048576", 1, SRTPSuite80},
		{"  2\tAES_CM_128_HMAC_SHA1_80   inline:" + inline + "  ", 2, SRTPSuite80},
		{"0 AES_CM_128_HMAC_SHA1_80 inline:" + inline, 0, ""},
		{"1000000000 AES_CM_128_HMAC_SHA1_80 inline:" + inline, 0, ""},
		{"-1 AES_CM_128_HMAC_SHA1_80 inline:" + inline, 0, ""},
		{"+1 AES_CM_128_HMAC_SHA1_80 inline:" + inline, 0, ""},
		{"1 AES_256_CM_HMAC_SHA1_80 inline:" + inline, 0, ""},
		{"1 aes_cm_128_hmac_sha1_80 inline:" + inline, 0, ""},
		{"1 F8_128_HMAC_SHA1_80 inline:" + inline, 0, ""},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "|2^20|1:4", 0, ""},         // MKI
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "|1:4", 0, ""},              // MKI
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "|2^99", 0, ""},             // lifetime
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + ";inline:" + inline, 0, ""}, // two keys
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + " UNENCRYPTED_SRTP", 0, ""},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + " KDR=1", 0, ""},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline[:36], 0, ""},     // 27 bytes
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "AAAA", 0, ""}, // 33 bytes
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.Replace(inline, "A", "-", 1), 0, ""},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:https://x/" + inline, 0, ""},
		{"1 AES_CM_128_HMAC_SHA1_80", 0, ""},
		{"", 0, ""},
	}
	for _, tt := range tests {
		c, err := parseCrypto(tt.in)
		if tt.suite == "" {
			if !errors.Is(err, errBadCrypto) {
				t.Errorf("%q: want errBadCrypto, got %+v %v", tt.in, c, err)
			}
			continue
		}
		if err != nil || c.tag != tt.tag || c.suite != tt.suite || !bytes.Equal(c.key, testKey) {
			t.Errorf("%q: got %+v %v", tt.in, c, err)
			continue
		}
		if again, err := parseCrypto(c.String()); err != nil || again.tag != c.tag || again.suite != c.suite || !bytes.Equal(again.key, c.key) {
			t.Errorf("%q: round trip %q: %+v %v", tt.in, c.String(), again, err)
		}
	}
}

func TestAnswerSRTPOffer(t *testing.T) {
	inline := base64.StdEncoding.EncodeToString(testKey)
	local := LocalMedia{Addr: netip.MustParseAddr("10.0.0.1"), Port: 20000}
	head := "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	savp := "m=audio 4000 RTP/SAVP 0\r\na=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "\r\n"
	savpBad := "m=audio 4000 RTP/SAVP 0\r\na=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:xyz\r\n"
	avp := "m=audio 4002 RTP/AVP 0\r\n"
	tls, udp := newSRTPPolicy(SRTPOptional, "TLS"), newSRTPPolicy(SRTPOptional, "UDP")
	req := newSRTPPolicy(SRTPRequired, "TLS")
	tests := []struct {
		name   string
		media  string
		pol    srtpPolicy
		err    error
		port   uint16 // accepted remote port
		secure bool
	}{
		{"savp over tls", savp, tls, nil, 4000, true},
		{"savp over udp", savp, udp, ErrNoSRTP, 0, false},
		{"savp without srtp", savp, srtpPolicy{}, ErrNoSRTP, 0, false},
		{"savp with a bad key", savpBad, tls, ErrNoSRTP, 0, false},
		{"savp then avp over udp", savp + avp, udp, nil, 4002, false},
		{"savp then avp over tls", savp + avp, tls, nil, 4000, true},
		{"avp then savp, required", avp + savp, req, nil, 4000, true},
		{"avp, required", avp, req, ErrNoSRTP, 0, false},
		{"avp, required over udp", avp, newSRTPPolicy(SRTPRequired, "UDP"), ErrNoSRTP, 0, false},
		{"dtls is not sdes", "m=audio 4000 UDP/TLS/RTP/SAVP 0\r\n", tls, ErrNoCommonCodec, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := tt.pol
			rest, m, err := answerOffer(mustParse(t, head+tt.media), local, &pol)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !errors.Is(err, ErrNoCommonCodec) {
					t.Fatalf("want %v, got %v", tt.err, err)
				}
				if pol.active {
					t.Fatal("policy changed by a failed negotiation")
				}
				return
			}
			if err != nil || m.RTP.Port() != tt.port || (m.SRTP != nil) != tt.secure || pol.active != tt.secure {
				t.Fatalf("%v %+v active %v", err, m, pol.active)
			}
			if n := strings.Count(rest, "a=crypto:"); n != map[bool]int{true: 1, false: 0}[tt.secure] {
				t.Fatalf("%d crypto lines:\n%s", n, rest)
			}
			if tt.secure && (!bytes.Equal(m.SRTP.Remote, testKey) || !bytes.Equal(m.SRTP.Local, pol.key) ||
				!strings.Contains(rest, "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:"+base64.StdEncoding.EncodeToString(pol.key))) {
				t.Fatalf("keys %+v\n%s", m.SRTP, rest)
			}
		})
	}
}

func TestSRTPOfferAndAnswer(t *testing.T) {
	local := LocalMedia{Addr: netip.MustParseAddr("10.0.0.1"), Port: 20000}
	pol := newSRTPPolicy(SRTPRequired, "TLS")
	offer := buildOffer(local, pol)
	if !strings.Contains(offer, "m=audio 20000 RTP/SAVP 0 8 101\r\n") ||
		!strings.Contains(offer, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+base64.StdEncoding.EncodeToString(pol.key)+"\r\n") {
		t.Fatalf("offer:\n%s", offer)
	}
	if o := buildOffer(local, newSRTPPolicy(SRTPOptional, "TLS")); strings.Contains(o, "SAVP") || strings.Contains(o, "crypto") {
		t.Fatalf("optional offer:\n%s", o)
	}
	inline := base64.StdEncoding.EncodeToString(testKey)
	head := "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	for _, tt := range []struct {
		media string
		ok    bool
	}{
		{"m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "\r\n", true},
		{"m=audio 4000 RTP/SAVP 0\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "\r\n", false},                                     // a tag we did not offer
		{"m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" + inline + "\r\n", false},                                     // another suite
		{"m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(pol.key) + "\r\n", false}, // our own key
		{"m=audio 4000 RTP/AVP 0\r\n", false},
		{"m=audio 4000 RTP/SAVP 0\r\n", false},
	} {
		m, err := parseAnswer(mustParse(t, head+tt.media), local, pol)
		if tt.ok != (err == nil) || tt.ok && (m.SRTP == nil || !bytes.Equal(m.SRTP.Remote, testKey) || m.SRTP.Suite != SRTPSuite80) {
			t.Errorf("%q: %+v %v", tt.media, m.SRTP, err)
		}
		if !tt.ok && !errors.Is(err, ErrNoSRTP) {
			t.Errorf("%q: %v is not ErrNoSRTP", tt.media, err)
		}
	}
	// A plain offer wants a plain answer.
	if _, err := parseAnswer(mustParse(t, head+"m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+inline+"\r\n"), local, srtpPolicy{}); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("SAVP answer to a plain offer: %v", err)
	}
}

func TestSameMedia(t *testing.T) {
	a := Media{Codec: PCMU, SRTP: &SRTPKeys{Suite: SRTPSuite80, Local: []byte{1}, Remote: []byte{2}}}
	b := a
	b.SRTP = &SRTPKeys{Suite: SRTPSuite80, Local: []byte{1}, Remote: []byte{2}}
	if !sameMedia(a, b) || sameMedia(a, Media{Codec: PCMU}) || !sameMedia(Media{}, Media{}) {
		t.Fatal("sameMedia")
	}
	b.SRTP.Remote = []byte{3}
	if sameMedia(a, b) {
		t.Fatal("different keys are the same")
	}
}
