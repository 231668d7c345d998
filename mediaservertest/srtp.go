package mediaservertest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/srtp/v3"
)

// SDES-SRTP: keys in the SDP (RFC 4568), media protected as RFC 3711 says.

// The crypto suites a phone runs (RFC 4568 section 6.2), both with a 128-bit
// AES counter-mode key; they differ in the length of the authentication tag.
const (
	suite80 = "AES_CM_128_HMAC_SHA1_80" // 80-bit tag: what a phone offers
	suite32 = "AES_CM_128_HMAC_SHA1_32" // 32-bit tag: accepted in offers
)

const (
	// srtpMasterKeyLen and srtpKeyLen: a key parameter is the 16-byte
	// master key followed by the 14-byte master salt (RFC 4568 section
	// 6.2.1, RFC 3711 section 8.2).
	srtpMasterKeyLen = 16
	srtpKeyLen       = 30
	// srtpReplayWindow is the receiver's replay window (RFC 3711 section
	// 3.3.2: at least 64).
	srtpReplayWindow = 64
	// protoSAVP is the only SRTP profile a phone speaks.
	protoSAVP = "RTP/SAVP"
	// maxCryptoLines bounds the a=crypto lines parsed per stream.
	maxCryptoLines = 16
	// maxCryptoTag is the largest tag, 1*9DIGIT (RFC 4568 section 9.1).
	maxCryptoTag = 999999999
	// offerCryptoTag is the tag of a phone's first offer.
	offerCryptoTag = 1
)

// sdpCrypto is one a=crypto attribute that a phone can use (RFC 4568
// section 9.1): a suite it runs and one inline key.
type sdpCrypto struct {
	tag   uint32
	suite string
	key   []byte // master key || master salt, srtpKeyLen bytes
}

// parseCrypto parses the value of an a=crypto attribute,
//
//	<tag> <crypto-suite> inline:<base64 key||salt>[|<lifetime>]
//
// and reports whether a phone can use it. It refuses what it cannot run
// rather than guess: another suite, a key that is not 30 bytes, several
// keys, an MKI, and any session parameter. The lifetime is ignored: test
// calls are far shorter than any key lifetime.
func parseCrypto(v string) (sdpCrypto, bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return sdpCrypto{}, false
	}
	tag, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil || tag > maxCryptoTag || strings.ContainsAny(f[0], "+-") {
		return sdpCrypto{}, false
	}
	if f[1] != suite80 && f[1] != suite32 {
		return sdpCrypto{}, false
	}
	method, info, ok := strings.Cut(f[2], ":")
	if !ok || !strings.EqualFold(method, "inline") || strings.Contains(info, ";") {
		return sdpCrypto{}, false
	}
	parts := strings.Split(info, "|")
	if len(parts) > 2 || len(parts) == 2 && strings.Contains(parts[1], ":") {
		return sdpCrypto{}, false // an MKI
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil || len(key) != srtpKeyLen {
		return sdpCrypto{}, false
	}
	return sdpCrypto{tag: uint32(tag), suite: f[1], key: key}, true
}

// String renders the attribute's value, without "crypto:".
func (c sdpCrypto) String() string {
	return strconv.FormatUint(uint64(c.tag), 10) + " " + c.suite + " inline:" + base64.StdEncoding.EncodeToString(c.key)
}

// newSRTPKey returns a fresh master key and salt.
func newSRTPKey() []byte {
	k := make([]byte, srtpKeyLen)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return k
}

// srtpKeys are the keys of a negotiated SRTP stream.
type srtpKeys struct {
	suite  string
	local  []byte // protects what the phone sends
	remote []byte // protects what it receives
}

// newSRTPContext returns a one-way SRTP context for key (30 bytes) and
// suite: for receiving (with a replay window) when rx, else for sending.
func newSRTPContext(key []byte, suite string, rx bool) (*srtp.Context, error) {
	profile := srtp.ProtectionProfileAes128CmHmacSha1_80
	if suite == suite32 {
		profile = srtp.ProtectionProfileAes128CmHmacSha1_32
	}
	var opts []srtp.ContextOption
	if rx {
		opts = append(opts, srtp.SRTPReplayProtection(srtpReplayWindow))
	}
	c, err := srtp.CreateContext(key[:srtpMasterKeyLen], key[srtpMasterKeyLen:], profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("mediaservertest: srtp context: %w", err)
	}
	return c, nil
}

// isSecureProto reports whether proto is an SRTP profile (RTP/SAVP,
// RTP/SAVPF, UDP/TLS/RTP/SAVP, ...).
func isSecureProto(proto string) bool { return strings.Contains(strings.ToUpper(proto), "SAVP") }

// offerCryptoLocked returns the crypto attribute of this phone's offers: the
// tag and suite negotiated so far (RFC 4568 section 7.1.4: a re-offer keeps
// them), else tag 1 with AES_CM_128_HMAC_SHA1_80. It is nil without SRTP.
func (c *Call) offerCryptoLocked() *sdpCrypto {
	if c.srtpKey == nil {
		return nil
	}
	if k := c.local.crypto; k != nil && c.srtpOn {
		return &sdpCrypto{tag: k.tag, suite: k.suite, key: c.srtpKey}
	}
	return &sdpCrypto{tag: offerCryptoTag, suite: suite80, key: c.srtpKey}
}

// srtpForOfferLocked checks a remote offer against PhoneConfig.SRTP. For an
// SRTP phone it picks the offerer's first usable crypto attribute (RFC 4568
// section 7.1.1) and returns the attribute of the answer (the same tag and
// suite, our key) and the stream's keys; for a plain phone both are nil. An
// error wraps ErrSRTPMismatch.
func (c *Call) srtpForOfferLocked(rm *remoteMedia) (*sdpCrypto, *srtpKeys, error) {
	if c.srtpKey == nil {
		if isSecureProto(rm.proto) {
			return nil, nil, fmt.Errorf("%w: %s offer to a phone without SRTP", ErrSRTPMismatch, rm.proto)
		}
		return nil, nil, nil
	}
	if rm.proto != protoSAVP {
		return nil, nil, fmt.Errorf("%w: %s offer to an SRTP phone", ErrSRTPMismatch, rm.proto)
	}
	if len(rm.crypto) == 0 {
		return nil, nil, fmt.Errorf("%w: no usable a=crypto line in the offer", ErrSRTPMismatch)
	}
	peer := rm.crypto[0]
	ours := &sdpCrypto{tag: peer.tag, suite: peer.suite, key: c.srtpKey}
	return ours, &srtpKeys{suite: peer.suite, local: c.srtpKey, remote: peer.key}, nil
}

// srtpForAnswerLocked checks a remote answer to this phone's offer (the last
// local SDP) and returns the stream's keys, nil for a plain stream. The
// answer must be RTP/SAVP exactly when the offer was, with a crypto
// attribute of the offered tag and suite (RFC 4568 section 7.1.3). An error
// wraps ErrSRTPMismatch.
func (c *Call) srtpForAnswerLocked(rm *remoteMedia) (*srtpKeys, error) {
	offered := c.local.crypto
	if offered == nil {
		if isSecureProto(rm.proto) {
			return nil, fmt.Errorf("%w: %s answer to an RTP/AVP offer", ErrSRTPMismatch, rm.proto)
		}
		return nil, nil
	}
	if rm.proto != protoSAVP {
		return nil, fmt.Errorf("%w: %s answer to an RTP/SAVP offer", ErrSRTPMismatch, rm.proto)
	}
	for _, k := range rm.crypto {
		if k.tag == offered.tag && k.suite == offered.suite {
			return &srtpKeys{suite: k.suite, local: offered.key, remote: k.key}, nil
		}
	}
	return nil, fmt.Errorf("%w: no usable a=crypto:%d %s in the answer", ErrSRTPMismatch, offered.tag, offered.suite)
}
