package sip

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"
)

func addFiles(f *testing.F, pattern string, add func(data []byte)) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(data)
	}
}

// addTortureSDP seeds with the SDP bodies of the RFC 4475 messages, when
// they are on disk.
func addTortureSDP(f *testing.F) {
	addFiles(f, filepath.Join(tortureDir, "*", "*.sip"), func(d []byte) {
		if _, body, ok := strings.Cut(string(d), "\r\n\r\n"); ok && strings.HasPrefix(body, "v=") {
			f.Add([]byte(body))
		}
	})
}

// FuzzNormalizeSDP: normalisation never panics, fails only with ErrBadSDP,
// is idempotent, and what it returns is what pion/sdp parses, or the parse
// error surfaces as ErrBadSDP from parseSDP.
func FuzzNormalizeSDP(f *testing.F) {
	addFiles(f, "testdata/sdp/*.sdp", func(d []byte) { f.Add(d) })
	addTortureSDP(f)
	f.Add([]byte("v=0\no=a 1 1 IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 0"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := normalizeSDP(in)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("error %v is not ErrBadSDP", err)
			}
			return
		}
		again, err := normalizeSDP([]byte(out))
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q (%v)", out, again, err)
		}
		if !strings.HasPrefix(out, "v=") || !strings.HasSuffix(out, "\r\n") || strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") {
			t.Fatalf("not strict: %q", out)
		}
		var sd sdp.SessionDescription
		if perr := sd.UnmarshalString(out); perr != nil {
			if _, err := parseSDP(in); !errors.Is(err, ErrBadSDP) {
				t.Fatalf("pion failed (%v) but parseSDP returned %v", perr, err)
			}
		}
	})
}

// FuzzParseOffer: parsing an offer and answering it never panics; errors
// are ErrBadSDP or ErrNoCommonCodec; an answer keeps the offer's m= line
// count and parses.
func FuzzParseOffer(f *testing.F) {
	addFiles(f, "testdata/sdp/*.sdp", func(d []byte) { f.Add(d) })
	addTortureSDP(f)
	local := LocalMedia{Addr: mustAddr("10.0.0.1"), Port: 20000}
	f.Fuzz(func(t *testing.T, in []byte) {
		off, err := parseSDP(in)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("parse error %v is not ErrBadSDP", err)
			}
			return
		}
		// Plain, SRTP allowed (over TLS) and SRTP required.
		for _, pol := range []srtpPolicy{{}, newSRTPPolicy(SRTPOptional, "TLS"), newSRTPPolicy(SRTPRequired, "TLS")} {
			checkAnswer(t, off, local, pol)
		}
		if pol := newSRTPPolicy(SRTPRequired, "UDP"); checkOffer(off, local, pol) == nil {
			t.Fatal("SRTP required over UDP accepted an offer")
		}
	})
}

// checkAnswer answers off under pol and checks the answer: it parses, keeps
// the m= lines, is an answer, and has keys only when pol allows them.
func checkAnswer(t *testing.T, off *sessionDesc, local LocalMedia, pol srtpPolicy) {
	t.Helper()
	rest, remote, err := answerOffer(off, local, &pol)
	if err != nil {
		if !errors.Is(err, ErrNoCommonCodec) && !errors.Is(err, ErrBadSDP) {
			t.Fatalf("answer error %v", err)
		}
		return
	}
	ls := localSDP{id: 1, version: 1, addr: local.Addr}
	ans, err := parseSDP(ls.render(rest))
	if err != nil {
		t.Fatalf("our answer does not parse: %v\n%s", err, rest)
	}
	if len(ans.media) != len(off.media) {
		t.Fatalf("answer has %d m= lines, offer %d", len(ans.media), len(off.media))
	}
	if !remote.RTP.IsValid() || remote.Codec.Name == "" {
		t.Fatalf("accepted without media: %+v", remote)
	}
	switch k := remote.SRTP; {
	case k != nil && !pol.allow:
		t.Fatalf("keys without TLS: %+v", k)
	case k != nil && (len(k.Local) != srtpKeyLen || len(k.Remote) != srtpKeyLen || !pol.active):
		t.Fatalf("bad keys %+v (policy %+v)", k, pol)
	case k == nil && (pol.active || pol.require):
		t.Fatalf("plain stream accepted under %+v", pol)
	}
	// Read our answer as the peer's answer to an offer of ours with the
	// same crypto attribute (another key: ours must differ from theirs).
	peer := pol
	peer.key = newSRTPKey()
	m, err := parseAnswer(ans, local, peer)
	if err != nil {
		t.Fatalf("our answer is not an answer: %v\n%s", err, rest)
	}
	if (m.SRTP == nil) != (remote.SRTP == nil) || m.SRTP != nil && !bytes.Equal(m.SRTP.Remote, pol.key) {
		t.Fatalf("answer keys %+v", m.SRTP)
	}
}

// FuzzParseINFODTMF: no panic; a digit is always one of 0-9 * # A-D.
func FuzzParseINFODTMF(f *testing.F) {
	addFiles(f, "testdata/dtmf/relay*.txt", func(d []byte) { f.Add("application/dtmf-relay", d) })
	addFiles(f, "testdata/dtmf/dtmf*.txt", func(d []byte) { f.Add("application/dtmf", d) })
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		d, dur, err := parseINFODTMF(ct, body)
		if err != nil {
			if d != 0 || dur != 0 {
				t.Fatalf("error with a digit")
			}
			return
		}
		if !strings.ContainsRune("0123456789*#ABCD", rune(d)) || dur < 0 {
			t.Fatalf("digit %q duration %v", d, dur)
		}
	})
}

// FuzzScreenMessage: raw screening and stateless replies never panic, and
// a reply is a SIP/2.0 response that parses (with the agent's parser).
func FuzzScreenMessage(f *testing.F) {
	addFiles(f, filepath.Join(tortureDir, "*", "*.sip"), func(d []byte) { f.Add(d) })
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nl: 3\r\n\r\nabc"))
	f.Add([]byte("OPTIONS sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP h\rx\r\nFrom: <sip:a@b>\r;tag=1\r\n\r\n"))
	parser := sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers()))
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, dg := range []bool{true, false} {
			code, _ := screenMessage(msg, dg)
			if code == 0 {
				continue
			}
			r := statelessReply(msg, code, "x")
			if r == nil {
				continue
			}
			if !strings.HasPrefix(string(r), "SIP/2.0 ") {
				t.Fatalf("reply %q", r)
			}
			if m, err := parser.ParseSIP(r); err != nil {
				t.Fatalf("reply does not parse (%v): %q", err, r)
			} else if _, ok := m.(*sip.Response); !ok {
				t.Fatalf("reply is not a response: %q", r)
			}
		}
	})
}

// FuzzParseCrypto: no panic; errors wrap errBadCrypto; what parses has a
// tag in 1..999999999, a supported suite and exactly 30 bytes of key, and
// survives a round trip through String.
func FuzzParseCrypto(f *testing.F) {
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20")
	f.Add("2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32")
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd KDR=1")
	f.Add("999999999 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := parseCrypto(in)
		if err != nil {
			if !errors.Is(err, errBadCrypto) {
				t.Fatalf("error %v is not errBadCrypto", err)
			}
			return
		}
		if c.tag < 1 || c.tag > maxCryptoTag || len(c.key) != srtpKeyLen || (c.suite != SRTPSuite80 && c.suite != SRTPSuite32) {
			t.Fatalf("parsed %q into %+v", in, c)
		}
		again, err := parseCrypto(c.String())
		if err != nil || again.tag != c.tag || again.suite != c.suite || !bytes.Equal(again.key, c.key) {
			t.Fatalf("round trip of %q: %+v %v", c.String(), again, err)
		}
	})
}
