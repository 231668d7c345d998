package mediaservertest

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"math"
	"strings"
	"time"
)

// Codec is a G.711 audio codec, named as SDP names it.
type Codec string

// The codecs a Phone speaks.
const (
	PCMU Codec = "PCMU" // G.711 µ-law, static payload type 0
	PCMA Codec = "PCMA" // G.711 A-law, static payload type 8
)

// payloadType returns the static RTP payload type of c, or -1.
func (c Codec) payloadType() int {
	switch c {
	case PCMU:
		return 0
	case PCMA:
		return 8
	}
	return -1
}

// Default values of PhoneConfig.
const (
	DefaultUser             = "phone"               // PhoneConfig.User
	DefaultPtime            = 20 * time.Millisecond // PhoneConfig.Ptime
	DefaultTelephoneEventPT = 101                   // PhoneConfig.TelephoneEventPT
	DefaultAnswerCode       = 200                   // PhoneConfig.AnswerCode
)

// PhoneConfig configures a Phone. The zero value is a valid configuration:
// a UDP phone named "phone" that offers and accepts PCMU and PCMA with RFC 4733
// telephone-event, sends silence in 20 ms packets, and answers every call at
// once with 200 OK. NewPhone copies the config; later changes have no effect.
type PhoneConfig struct {
	// User is the user part of the phone's URI and From header, e.g. "alice".
	// Default "phone".
	User string

	// Codecs lists what the phone offers, in this order, and what it accepts.
	// When it answers an offer it picks the first codec of this list that the
	// offer contains, so the order is its preference. Default PCMU, PCMA.
	Codecs []Codec

	// DisableTelephoneEvent stops the phone from offering or accepting RFC 4733
	// telephone-event. Default false: it offers telephone-event.
	DisableTelephoneEvent bool

	// TelephoneEventPT is the payload type the phone offers for
	// telephone-event, 96 to 127. Default 101.
	TelephoneEventPT uint8

	// Ptime is the duration of audio in each RTP packet the phone sends,
	// a whole number of milliseconds from 10 to 60. Default 20 ms.
	Ptime time.Duration

	// ToneHz is what the phone sends once a call has media: a sine wave at
	// this frequency, at about -13 dBFS. 0 sends silence. It must be below
	// 4000 Hz. Call.SetTone changes it per call.
	ToneHz float64

	// WAV is the path of a WAV file (8 kHz, see ReadWAV) that the phone sends
	// in a loop instead of ToneHz. Its first channel is used.
	WAV string

	// AnswerCode is the final response to an incoming INVITE: 200 (the default)
	// answers; a code from 300 to 699 rejects the call, e.g. 486 Busy Here or
	// 603 Decline.
	AnswerCode int

	// RingFor makes the phone send 180 Ringing and wait this long before the
	// final response. A CANCEL ends the wait. Use a long value (time.Hour) for
	// a phone that is never answered. Default 0: the final response comes at once.
	RingFor time.Duration

	// EarlyMedia makes the phone send 183 Session Progress with its SDP answer
	// instead of 180, and send its audio during RingFor (early media).
	EarlyMedia bool

	// SendFromOtherPort makes the phone advertise one RTP port in its SDP but
	// send its RTP from a second socket on another port. It receives on both.
	// Use it to test RTP latching. Default false: symmetric RTP, sent from the
	// advertised port.
	SendFromOtherPort bool

	// Transport is the transport of the requests the phone sends: "udp"
	// (default) or "tcp". A target URI with a transport parameter overrides
	// it, and a sips: target goes over TLS. The phone receives on both (and
	// on TLS with PhoneConfig.TLS).
	Transport string

	// TLS, when set, makes the phone speak SIP over TLS (RFC 3261 section
	// 26) too: it listens for TLS on a port of its own (TLSAddr, TLSURI) with
	// this config as the server side, so it needs a certificate
	// (Certificates or GetCertificate), and it dials sips: and
	// ;transport=tls targets with it as the client side, so RootCAs must
	// trust the peer. Over TLS its Contact is sips: in a sips: dialog and
	// sip:...;transport=tls otherwise. NewPhone clones it. Default nil: no
	// TLS, and TLS targets are refused.
	TLS *tls.Config

	// SRTP makes every call of the phone SRTP with SDES keys (RFC 3711,
	// RFC 4568): it offers RTP/SAVP with one a=crypto line,
	// AES_CM_128_HMAC_SHA1_80 with a fresh 30-byte key per call, and
	// answers an RTP/SAVP offer with the offerer's first usable crypto line
	// (AES_CM_128_HMAC_SHA1_80 or _32, an inline key without MKI or session
	// parameters) and its own key. It encrypts all it sends, and decrypts and
	// authenticates all it receives (replay window 64); packets that fail
	// are dropped and counted in Stats.SRTPAuthFailures. A plain RTP/AVP
	// offer gets 488, and a plain answer to its offer fails the call
	// (ErrSRTPMismatch): an SRTP phone never falls back to plain RTP.
	//
	// The phone sends its keys whatever the transport, also over UDP or TCP,
	// so that tests can check that a server refuses keys sent in clear
	// (decision 21 of DESIGN.md); use TLS for real calls. Default false:
	// plain RTP/AVP, and an RTP/SAVP offer gets 488 (ErrSRTPMismatch).
	SRTP bool

	// PadInviteTo pads the SDP of every INVITE the phone sends with harmless
	// a= lines, so that the INVITE is at least this many bytes. sipgo refuses
	// to send a UDP message over about 1300 bytes, so use TCP for 2 kB.
	// Default 0: no padding.
	PadInviteTo int

	// Logger receives the phone's log: call lifecycle at Info, SIP problems at
	// Warn. sipgo's own log is passed on from Warn up. Default: the test log
	// (testing.TB.Log), so it shows only for failed tests or with -v.
	Logger *slog.Logger
}

// withDefaults returns a copy of cfg with defaults filled in, or the errors of
// its invalid fields joined.
func (cfg PhoneConfig) withDefaults() (PhoneConfig, error) {
	cfg.Codecs = append([]Codec(nil), cfg.Codecs...)
	if cfg.TLS != nil {
		cfg.TLS = cfg.TLS.Clone()
	}
	if cfg.User == "" {
		cfg.User = DefaultUser
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []Codec{PCMU, PCMA}
	}
	if cfg.TelephoneEventPT == 0 {
		cfg.TelephoneEventPT = DefaultTelephoneEventPT
	}
	if cfg.Ptime == 0 {
		cfg.Ptime = DefaultPtime
	}
	if cfg.AnswerCode == 0 {
		cfg.AnswerCode = DefaultAnswerCode
	}
	cfg.Transport = strings.ToLower(cfg.Transport)
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}

	return cfg, cfg.validate()
}

// validate returns the errors of the invalid fields of a defaulted cfg, joined.
func (cfg *PhoneConfig) validate() error {
	var errs []error
	bad := func(field, reason string) { errs = append(errs, &ConfigError{Field: field, Reason: reason}) }
	if strings.ContainsAny(cfg.User, "@:;<> \t\r\n") {
		bad("User", "must be a plain SIP user part")
	}
	seen := map[Codec]bool{}
	for _, c := range cfg.Codecs {
		if c.payloadType() < 0 {
			bad("Codecs", "unknown codec "+string(c)+", want PCMU or PCMA")
		}
		if seen[c] {
			bad("Codecs", "duplicate codec "+string(c))
		}
		seen[c] = true
	}
	if cfg.TelephoneEventPT < 96 || cfg.TelephoneEventPT > 127 {
		bad("TelephoneEventPT", "must be a dynamic payload type, 96 to 127")
	}
	if cfg.Ptime < 10*time.Millisecond || cfg.Ptime > 60*time.Millisecond || cfg.Ptime%time.Millisecond != 0 {
		bad("Ptime", "must be a whole number of milliseconds from 10 to 60")
	}
	if cfg.ToneHz < 0 || cfg.ToneHz >= 4000 || math.IsNaN(cfg.ToneHz) {
		bad("ToneHz", "must be from 0 to below 4000")
	}
	if cfg.AnswerCode != 200 && (cfg.AnswerCode < 300 || cfg.AnswerCode > 699) {
		bad("AnswerCode", "must be 200 or a failure code from 300 to 699")
	}
	if cfg.RingFor < 0 {
		bad("RingFor", "must not be negative")
	}
	if cfg.Transport != "udp" && cfg.Transport != "tcp" {
		bad("Transport", `must be "udp" or "tcp"`)
	}
	if cfg.TLS != nil && len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil {
		bad("TLS", "the phone's TLS listener needs Certificates or GetCertificate")
	}
	if cfg.PadInviteTo < 0 || cfg.PadInviteTo > 60000 {
		bad("PadInviteTo", "must be from 0 to 60000")
	}
	return errors.Join(errs...)
}
