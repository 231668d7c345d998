package sip

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SDES (RFC 4568): SRTP keys in the SDP, a=crypto lines. The keys are
// plain text in the SDP, so they are exchanged only when the signalling
// runs over TLS (decision 21).

// srtpKeyLen is the master key (16 bytes) plus master salt (14 bytes) of
// the AES_CM_128 suites (RFC 4568 §6.2.1, RFC 3711 §8.2).
const srtpKeyLen = 30

// maxCryptoTag is the largest crypto tag, 1*9DIGIT (RFC 4568 §9.1).
const maxCryptoTag = 999999999

// maxCryptoAttrs bounds the crypto lines considered per m= section.
const maxCryptoAttrs = 16

var errBadCrypto = errors.New("sip: malformed crypto attribute")

// cryptoAttr is one a=crypto attribute we can use: a supported suite and a
// single inline key without MKI or session parameters.
type cryptoAttr struct {
	tag   uint32
	suite string
	key   []byte // master key || master salt, srtpKeyLen bytes
}

// parseCrypto parses the value of an a=crypto attribute (after
// "crypto:"):
//
//	<tag> <crypto-suite> inline:<base64 key||salt>[|<lifetime>]
//
// (RFC 4568 §9.1). It refuses what we cannot run rather than guessing: an
// unknown suite, a key that is not exactly 30 bytes, several keys, an MKI
// (RFC 4568 §6.1: one key per stream here), and any session parameter
// (UNENCRYPTED_SRTP and friends, KDR, FEC, WSH). Errors wrap errBadCrypto.
func parseCrypto(v string) (cryptoAttr, error) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return cryptoAttr{}, fieldErr("want tag, suite and key params only")
	}
	tag, ok := parseCryptoTag(f[0])
	if !ok {
		return cryptoAttr{}, fieldErr("bad tag")
	}
	suite := f[1]
	if suite != SRTPSuite80 && suite != SRTPSuite32 {
		return cryptoAttr{}, fieldErr("unsupported suite")
	}
	method, info, ok := strings.Cut(f[2], ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return cryptoAttr{}, fieldErr("key method is not inline")
	}
	if strings.Contains(info, ";") {
		return cryptoAttr{}, fieldErr("several keys")
	}
	parts := strings.Split(info, "|")
	switch {
	case len(parts) > 2:
		return cryptoAttr{}, fieldErr("mki not supported")
	case len(parts) == 2 && !validLifetime(parts[1]):
		return cryptoAttr{}, fieldErr("bad lifetime or mki")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[0])
	if err != nil || len(key) != srtpKeyLen {
		return cryptoAttr{}, fieldErr("key is not 30 bytes of base64")
	}
	return cryptoAttr{tag: tag, suite: suite, key: key}, nil
}

func fieldErr(reason string) error { return errors.Join(errBadCrypto, errors.New(reason)) }

func parseCryptoTag(s string) (uint32, bool) {
	if !allDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < 1 || n > maxCryptoTag {
		return 0, false
	}
	return uint32(n), true
}

// validLifetime accepts a key lifetime, decimal or "2^n" (RFC 4568 §6.1);
// an MKI ("value:length") is refused by the caller.
func validLifetime(s string) bool {
	if exp, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := strconv.Atoi(exp)
		return allDigits(exp) && err == nil && n <= 64
	}
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String renders the attribute value (without "a=crypto:").
func (c cryptoAttr) String() string {
	return strconv.FormatUint(uint64(c.tag), 10) + " " + c.suite + " inline:" + base64.StdEncoding.EncodeToString(c.key)
}

// newSRTPKey returns a fresh master key and salt from crypto/rand.
func newSRTPKey() []byte {
	k := make([]byte, srtpKeyLen)
	_, _ = rand.Read(k) // never fails (crypto/rand documents it)
	return k
}

// srtpPolicy is what SDP negotiation may do with SRTP on one call. It is
// part of the call's state, guarded by call.mu.
type srtpPolicy struct {
	allow   bool   // SRTP configured and the signalling is TLS: keys may be sent
	require bool   // SRTPRequired: plain RTP streams are refused
	key     []byte // our master key and salt for the call; nil unless allow
	active  bool   // the current session is SRTP, with tag and suite below
	tag     uint32
	suite   string
}

// newSRTPPolicy returns the policy of a call whose signalling runs over
// transport.
func newSRTPPolicy(mode SRTPMode, transport string) srtpPolicy {
	p := srtpPolicy{require: mode == SRTPRequired}
	if mode != SRTPOff && transport == "TLS" {
		p.allow = true
		p.key = newSRTPKey()
	}
	return p
}

// offerSecure reports whether our offers are RTP/SAVP: when SRTP is
// required, or the session already is SRTP (no downgrade in a re-offer).
func (p *srtpPolicy) offerSecure() bool { return p.allow && (p.require || p.active) }

// offerCrypto is the crypto attribute of our offers: the current one when
// the session is SRTP, else tag 1 with SRTPSuite80.
func (p *srtpPolicy) offerCrypto() cryptoAttr {
	if p.active {
		return cryptoAttr{tag: p.tag, suite: p.suite, key: p.key}
	}
	return cryptoAttr{tag: 1, suite: SRTPSuite80, key: p.key}
}

// accepted records the outcome of a negotiation: keys is nil for plain RTP.
func (p *srtpPolicy) accepted(keys *cryptoAttr) {
	p.active = keys != nil
	if keys != nil {
		p.tag, p.suite = keys.tag, keys.suite
	}
}

// keys returns the Media.SRTP of a stream secured with the peer's
// attribute c.
func (p *srtpPolicy) keys(c cryptoAttr) *SRTPKeys {
	return &SRTPKeys{Suite: c.suite, Local: bytes.Clone(p.key), Remote: bytes.Clone(c.key)}
}

// secureProto reports whether proto is an SRTP profile we answer with SDES.
func secureProto(proto string) bool { return proto == "RTP/SAVP" || proto == "RTP/SAVPF" }

// plainProto reports whether proto is a plain RTP profile.
func plainProto(proto string) bool { return proto == "RTP/AVP" || proto == "RTP/AVPF" }

// pickCrypto returns the offerer's first usable crypto attribute, in its
// order of preference (RFC 4568 §7.1.1).
func pickCrypto(m *sdpMedia) (cryptoAttr, bool) {
	if len(m.crypto) == 0 {
		return cryptoAttr{}, false
	}
	return m.crypto[0], true
}

// sameMedia compares two Media by value, SRTP keys included.
func sameMedia(a, b Media) bool {
	ka, kb := a.SRTP, b.SRTP
	a.SRTP, b.SRTP = nil, nil
	if a != b || (ka == nil) != (kb == nil) {
		return false
	}
	return ka == nil || ka.Suite == kb.Suite && bytes.Equal(ka.Local, kb.Local) && bytes.Equal(ka.Remote, kb.Remote)
}
