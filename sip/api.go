package sip

// This file is the contract between package sip and the root package: the
// plain-value types and interfaces. The Agent is in agent.go, the calls in
// inbound.go and outbound.go, errors in errors.go.

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"time"
)

// Codec is an audio payload format as SDP names it.
type Codec struct {
	// PayloadType is the RTP payload type number (0 for PCMU, 8 for PCMA).
	PayloadType uint8
	// Name is the encoding name of the rtpmap line, e.g. "PCMU".
	Name string
	// ClockRate is the RTP clock rate in Hz, 8000 for G.711.
	ClockRate uint32
}

// The codecs this server speaks, in default preference order. Treat them as
// constants.
var (
	// PCMU is G.711 µ-law, static payload type 0.
	PCMU = Codec{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	// PCMA is G.711 A-law, static payload type 8.
	PCMA = Codec{PayloadType: 8, Name: "PCMA", ClockRate: 8000}
)

// Direction is an SDP media direction attribute.
type Direction uint8

// Directions of RFC 3264. The zero value means sendrecv.
const (
	// SendRecv: media flows both ways.
	SendRecv Direction = iota
	// SendOnly: the side that wrote it only sends.
	SendOnly
	// RecvOnly: the side that wrote it only receives.
	RecvOnly
	// Inactive: no media either way.
	Inactive
)

// Media is the negotiated description of one audio stream, as plain values:
// what the remote side's SDP says, reduced to what the media plane needs.
type Media struct {
	// RTP is the remote RTP address from c= and m=. Its address is
	// unspecified (0.0.0.0) when the remote side put us on hold that way.
	RTP netip.AddrPort
	// RTCP is the remote RTCP address (a=rtcp, else RTP port + 1).
	RTCP netip.AddrPort
	// RTCPMux is true when both sides agreed on a=rtcp-mux.
	RTCPMux bool
	// Codec is the one audio codec chosen, with the payload type to send
	// it with (the offerer's number when we answer).
	Codec Codec
	// TelephoneEvent is the RFC 4733 payload type (the offerer's number when
	// we answer), or -1 when none was negotiated.
	TelephoneEvent int
	// Direction is the direction attribute of the remote SDP, as the remote
	// side wrote it (sendonly means the remote only sends).
	Direction Direction
	// Ptime is the remote a=ptime, 0 when absent.
	Ptime time.Duration
	// SRTP holds the SDES keys when the stream is SRTP (RTP/SAVP, RFC
	// 4568), nil for plain RTP. It is only ever set for a call whose
	// signalling runs over TLS with Config.SRTP on. Each Media carries its
	// own copy: the receiver owns it. Never log it.
	SRTP *SRTPKeys
}

// SRTPKeys are the SDES keys of one SRTP stream (RFC 4568 §6.1): in each
// direction the 16-byte master key followed by the 14-byte master salt, the
// split pion/srtp's Config.Keys takes (LocalMasterKey, LocalMasterSalt,
// RemoteMasterKey, RemoteMasterSalt).
type SRTPKeys struct {
	// Suite is the crypto suite, SRTPSuite80 or SRTPSuite32 (pion/srtp's
	// ProtectionProfileAes128CmHmacSha1_80 and _32).
	Suite string
	// Local is our master key and salt, 30 bytes: what we send is
	// protected with it.
	Local []byte
	// Remote is the peer's master key and salt, 30 bytes: what we receive
	// is unprotected with it.
	Remote []byte
}

// SRTP crypto suites of RFC 4568 §6.2 that the agent accepts (both use
// 30 bytes of key and salt). Our own offers use SRTPSuite80.
const (
	// SRTPSuite80 is AES counter mode with a 128-bit key and an 80-bit
	// HMAC-SHA1 tag.
	SRTPSuite80 = "AES_CM_128_HMAC_SHA1_80"
	// SRTPSuite32 is AES counter mode with a 128-bit key and a 32-bit
	// HMAC-SHA1 tag.
	SRTPSuite32 = "AES_CM_128_HMAC_SHA1_32"
)

// SRTPMode says whether calls use SRTP with SDES keys. Keys travel in the
// SDP, so the agent exchanges them only over TLS (decision 21): a call
// whose signalling is UDP or TCP never gets keys, whatever the mode.
type SRTPMode uint8

// SRTP modes.
const (
	// SRTPOff (the default): plain RTP only. An RTP/SAVP stream is
	// answered at port 0, with 488 when it is the only audio stream.
	SRTPOff SRTPMode = iota
	// SRTPOptional: over TLS an RTP/SAVP offer with an acceptable crypto
	// attribute is answered with our own fresh key, and a plain RTP/AVP
	// offer is accepted too; our own offers are plain RTP/AVP. Calls over
	// UDP and TCP are plain, as with SRTPOff.
	SRTPOptional
	// SRTPRequired: every call is SRTP. Over TLS our offers are RTP/SAVP
	// with a crypto attribute and plain offers get 488; calls that do not
	// come over TLS get 488, and Invite refuses a target not reached over
	// TLS (ErrNoRoute).
	SRTPRequired
)

// CanSend reports whether we may send RTP toward the remote side.
func (m Media) CanSend() bool {
	if !m.RTP.IsValid() || m.RTP.Addr().IsUnspecified() || m.RTP.Port() == 0 {
		return false
	}
	return m.Direction == SendRecv || m.Direction == RecvOnly
}

// LocalMedia is our side of a stream: where we receive and what we accept.
type LocalMedia struct {
	// Addr is the advertised RTP address (c= line); the zero value means
	// Config.PublicHost, which must then be an IP address.
	Addr netip.Addr
	// Port is our RTP port; RTCP is Port+1 unless rtcp-mux is agreed.
	Port int
	// Codecs lists what we accept in preference order; nil means PCMU, PCMA.
	// Our offers list them with their payload types (plus telephone-event
	// 101); answers pick the offerer's first codec that is in this list.
	Codecs []Codec
	// Direction is our direction in an offer we make: SendRecv by default,
	// SendOnly for a listen-only monitor leg. In answers the direction is
	// derived from the offer (decision 6), limited to what Direction allows
	// (a SendOnly leg answers a sendrecv offer with sendonly).
	Direction Direction
}

// Address is a name-addr of a From or To header.
type Address struct {
	// DisplayName is the display name, unquoted; empty when absent.
	DisplayName string
	// URI is the whole URI, e.g. "sip:alice@example.com".
	URI string
	// User is the user part of the URI ("alice"), empty when it has none.
	User string
	// Host is the host[:port] part of a sip: or sips: URI; empty for other
	// schemes (tel:).
	Host string
}

// Trunk is an outbound route (decision 13). A trunk needs a Proxy or a
// Domain.
type Trunk struct {
	// Name identifies the trunk.
	Name string
	// Proxy is host[:port] (port 5060 by default) where every request of a
	// call through this trunk is sent, in-dialog ones included (an outbound
	// proxy). Empty: requests go to Domain.
	Proxy string
	// Domain is the host of the Request-URI for bare numbers
	// (sip:+E164@Domain;user=phone), and selects this trunk for sip: targets
	// whose host equals it. Empty: the Proxy host.
	Domain string
	// Transport is "udp" (default), "tcp" or "tls" (needs Config.TLS; the
	// Proxy port defaults to 5061 then).
	Transport string
	// Username and Password answer 401/407 digest challenges, for every
	// request of the call.
	Username, Password string
	// FromUser and FromDomain, when set, replace the user and host of From
	// (the host defaults to Domain, then to Config.PublicHost).
	FromUser, FromDomain string
	// PAssertedIdentity, when set, is sent as P-Asserted-Identity: a
	// name-addr ("<sip:...>"), a URI, or a user that becomes
	// <sip:user@FromDomain-or-Domain>.
	PAssertedIdentity string
}

// Config configures an Agent. The zero value of each field means its default.
type Config struct {
	// ListenAddr is host:port for UDP and TCP; the host is an IP address (or
	// empty, or "localhost"). Default "127.0.0.1:5060"; port 0 picks a free
	// port (the same number for UDP and TCP).
	ListenAddr string
	// PublicHost is the host advertised in Contact, Via and (as the default)
	// LocalMedia.Addr and From. Default: the listen IP, or for an
	// unspecified listen IP the source address of the default route.
	PublicHost string
	// UserAgent is the User-Agent/Server header value. Default "mediaserver".
	UserAgent string
	// Logger receives the agent's logs. Default slog.Default().
	Logger *slog.Logger
	// Trunks are the outbound routes; the first is the default for bare numbers.
	Trunks []Trunk
	// NoAnswerTimeout bounds how long an outbound INVITE may ring. Default 60 s.
	NoAnswerTimeout time.Duration
	// SessionExpires is the RFC 4028 interval we ask for and accept. Default
	// 1800 s; Min-SE is 90 s.
	SessionExpires time.Duration
	// OnInvite is called for every valid out-of-dialog INVITE that passed
	// admission (AllowedSources, Draining, InviteRateLimit, InboundAuth)
	// after 100 Trying was sent and its SDP (if any) was parsed and found
	// acceptable with PCMU/PCMA and Config.SRTP (else the agent answered
	// 400 or 488 itself). It runs on a SIP
	// goroutine and must not block: it returns the handler for the call's
	// later events, or nil after it called Reject (a nil return without
	// Reject rejects with 480). It is the call's first event: a CANCEL
	// arriving meanwhile is reported to the returned handler after it. With
	// OnInvite nil, INVITEs get 503.
	OnInvite func(call *InboundCall) DialogHandler
	// Draining, when it returns true, makes the agent answer out-of-dialog
	// OPTIONS and new INVITEs with 503 and Retry-After (decision 20).
	Draining func() bool

	// AllowedSources, when non-empty, is who may talk to the agent first:
	// a request from a source address outside these prefixes (and outside
	// TrustedProxies) is dropped without any answer and counted in
	// Stats.NotAllowed, unless it belongs to one of our dialogs (a callee
	// may send its BYE from another address than the one we called) or is
	// an ACK with a To tag. Responses always pass. Silence rather than 403: the peers that
	// matter are listed, and an answer would confirm a SIP server to
	// scanners, answer forged UDP sources, and cost a server transaction per
	// request. Empty (the default): every source is allowed.
	AllowedSources []netip.Prefix
	// TrustedProxies are the proxies in front of the agent (a Kamailio
	// dispatcher): their requests are always allowed and exempt from
	// InviteRateLimit and InboundAuth (the proxy authenticates and limits).
	TrustedProxies []netip.Prefix
	// InviteRateLimit limits the out-of-dialog INVITEs of each source
	// address: beyond it an INVITE gets 503 with Retry-After and is counted
	// in Stats.RateLimited. The zero value turns it off (the default).
	InviteRateLimit RateLimit
	// RequestRateLimit limits, per source address, the out-of-dialog
	// requests other than INVITE, ACK and CANCEL: OPTIONS, REGISTER,
	// SUBSCRIBE, unknown methods, stale in-dialog requests, and requests
	// that would be answered 400 statelessly. Beyond it they are dropped
	// before they are parsed, without an answer (a scanner's sweep or an
	// OPTIONS flood then costs a read and a map lookup, and gets no
	// traffic back), and counted in Stats.RequestRateLimited. A request
	// answered statelessly (400, 416, 505 ...) takes a token too, whatever
	// its method. Sources in TrustedProxies are exempt; list a proxy in
	// front there, as UDP sources can be forged to spend its tokens. The
	// zero value turns it off (the default of this package;
	// mediaserver.Config turns it on).
	RequestRateLimit RateLimit
	// InboundAuth, when non-nil, demands digest authentication (RFC 3261
	// §22, RFC 8760) of out-of-dialog INVITEs from sources outside
	// TrustedProxies. Requests inside a dialog are not challenged.
	InboundAuth *InboundAuth
	// RetryAfter is the Retry-After of every 503 the agent sends: draining,
	// rate limit (at least the time until the source may send again),
	// InboundCall.Reject(503, ...) and Close. Default 5 s; rounded up to
	// whole seconds.
	RetryAfter time.Duration

	// TLS, when non-nil, enables SIP over TLS. The agent listens for TLS on
	// TLSAddr (its Certificates or GetCertificate serve inbound
	// connections) and calls sips: URIs, ;transport=tls targets and "tls"
	// trunks over TLS (its RootCAs verify the peer, nil meaning the system
	// roots; leave ServerName empty so that each connection checks the host
	// it dials; Certificates are offered when a peer asks for a client
	// certificate). The agent keeps a copy. Nil (the default): no TLS, and
	// such targets are refused with ErrNoRoute.
	TLS *tls.Config
	// TLSAddr is host:port to listen on for TLS (the host an IP address;
	// port 0 picks a free port). It needs TLS with a certificate. Empty
	// (the default): no TLS listener; outbound TLS calls then rely on the
	// peer sending its in-dialog requests over our connection.
	TLSAddr string
	// SRTP chooses SDES-SRTP for calls over TLS (decision 21). Anything but
	// SRTPOff needs TLS. Default SRTPOff.
	SRTP SRTPMode
}

// RateLimit is a token bucket per source: IPv4 addresses count one by one,
// IPv6 addresses by /64 (one host's usual allocation).
type RateLimit struct {
	// Rate is the sustained number of INVITEs per second a source may send;
	// 0 turns the limit off.
	Rate float64
	// Burst is how many INVITEs more than Rate a source may send at once:
	// an idle source may send Rate+Burst INVITEs at once, then Rate per
	// second. Count two INVITEs per call when InboundAuth challenges them.
	Burst int
	// MaxSources bounds the number of sources tracked (memory). Sources
	// idle long enough to have a full bucket again are forgotten; when the
	// table is full of active sources, one of them is forgotten (it gets a
	// fresh bucket), so that a flood from many addresses never locks out a
	// new caller. Default 10000.
	MaxSources int
}

// InboundAuth configures digest authentication of inbound INVITEs. The
// nonces are stateless (a timestamp and the source address, signed with
// Secret); only the nonce counts of accepted credentials are remembered,
// to refuse replays.
type InboundAuth struct {
	// Realm is the digest realm. Default Config.PublicHost.
	Realm string
	// Lookup returns the password of user, ok false for an unknown user.
	// It runs on the goroutine handling the INVITE, must be safe for
	// concurrent use and should return quickly. One of Lookup and Users
	// must be set.
	Lookup func(user string) (password string, ok bool)
	// Users is a static table of user names and passwords, used when
	// Lookup is nil. The agent keeps a copy.
	Users map[string]string
	// Secret signs the nonces (HMAC-SHA256); instances sharing it accept
	// each other's nonces. Default: 32 random bytes per Agent.
	Secret []byte
	// NonceLifetime is how long a nonce is accepted; right credentials on
	// an older nonce get 401 with stale=true. Default 5 minutes.
	NonceLifetime time.Duration
	// Algorithms are the digest algorithms challenged, one
	// WWW-Authenticate each in this order: "SHA-256" and "MD5". Default
	// {"MD5"} alone: phones in the field fail on a SHA-256 challenge even
	// next to an MD5 one (baresip 1.0 ends the call with ENOSYS whichever
	// comes first; TestInteropBaresipDigest). Use {"SHA-256", "MD5"}
	// (RFC 8760 §2.4, most preferred first) when every phone supports it.
	Algorithms []string
	// MaxFailures is how many wrong credentials (a wrong password or an
	// unknown user, answered 403) one source (an IPv4 address, an IPv6
	// /64) may send, each within Lockout of the one before, before it is
	// locked out: while locked, every INVITE from it gets 403 unchecked,
	// so password guessing stops, and the lock ends Lockout after the
	// failure that set it (refused INVITEs do not extend it). Only
	// credentials on a live nonce of ours count, and nonces are bound to
	// the source address, so a forged source address cannot lock a phone
	// out; a retransmitted INVITE is not a second failure. Default 10;
	// negative turns the lockout off.
	MaxFailures int
	// Lockout is how long failures are remembered and a lock lasts.
	// Default 5 minutes.
	Lockout time.Duration
}

// Stats counts the requests the agent refused, by reason, since NewAgent.
// Metrics can export the counts as counters (they only grow).
type Stats struct {
	// NotAllowed: requests dropped because their source is outside
	// Config.AllowedSources.
	NotAllowed uint64
	// RateLimited: INVITEs answered 503 for Config.InviteRateLimit.
	RateLimited uint64
	// RequestRateLimited: other out-of-dialog requests dropped for
	// Config.RequestRateLimit.
	RequestRateLimited uint64
	// Draining: INVITEs and OPTIONS answered 503 because the agent is
	// draining (Config.Draining) or closing.
	Draining uint64
	// Challenged: INVITEs answered 401 (no credentials, an unknown or
	// stale nonce); a normal authenticated call costs one.
	Challenged uint64
	// AuthFailed: INVITEs answered 403 for a wrong user or password.
	AuthFailed uint64
	// AuthLocked: INVITEs answered 403 unchecked because their source is
	// locked out after InboundAuth.MaxFailures failures.
	AuthLocked uint64
	// Invalid: requests refused by validation (RFC 3261 §8.2: 400, 415,
	// 416, 420, 501, 505 ...), statelessly or not.
	Invalid uint64
	// TLSHandshakeFailed: inbound TLS connections whose handshake failed.
	TLSHandshakeFailed uint64
	// RateLimitSources is the number of sources the rate limiter tracks now
	// (a gauge; at most RateLimit.MaxSources).
	RateLimitSources int
	// AuthLockSources is the number of sources with recent failed
	// authentications, locked out or not (a gauge).
	AuthLockSources int
}

// DialogHandler receives the events of one call. Its methods are called on
// SIP goroutines, one at a time per call and in order, with no lock held
// (they may call the call's methods), and must not block. No event follows
// the call's end, and none follows our own Hangup, Reject or Agent.Close.
type DialogHandler interface {
	// OnAck is called when the ACK for our 200 to the INVITE arrives
	// (inbound calls). For an INVITE without SDP, OnMedia with the answer
	// the ACK carried comes first.
	OnAck()
	// OnMedia is called when the remote media description changes: an SDP
	// answer in an ACK, an offer in a re-INVITE or an UPDATE (already
	// answered, on the same local port: media is anchored), or a changed
	// answer to our session refresh. On an SRTP call m.SRTP carries the
	// peer's current key (a re-offer may change it; ours stays) or is nil
	// when a re-offer went back to plain RTP (SRTPOptional only).
	OnMedia(m Media)
	// OnDTMF is called for a digit received by SIP INFO
	// (application/dtmf-relay or application/dtmf); duration is 0 when the
	// body gives none.
	OnDTMF(digit byte, duration time.Duration)
	// OnEnd is called once when an established dialog (inbound: once
	// answered or ringing; outbound: once answered) ends for any reason
	// other than our own Hangup/Reject: remote BYE, CANCEL, ACK timeout,
	// session expiry, a failed session refresh, an unusable answer in the
	// ACK.
	OnEnd(reason EndReason)
}

// OutboundHandler receives the events of an outbound call.
type OutboundHandler interface {
	DialogHandler
	// OnProgress is called for each provisional response other than 100
	// Trying (180, 183, ...); early is non-nil when the response carried
	// usable SDP (early media).
	OnProgress(code int, early *Media)
	// OnAnswer is called once the 2xx arrived and was acknowledged.
	OnAnswer(m Media)
	// OnFail is called once when the call fails before answer, and ends it:
	// err is a *StatusError for a final response, or wraps ErrTimeout (Timer
	// B, Config.NoAnswerTimeout), ErrTransport, ErrBadSDP or
	// ErrNoCommonCodec (an unusable 2xx, which we ACK and BYE; ErrNoSRTP,
	// which wraps it, when our SRTP offer got no usable key).
	OnFail(err error)
}

// EndCause says why a dialog ended.
type EndCause uint8

// End causes.
const (
	// EndBye: the peer sent BYE.
	EndBye EndCause = iota + 1
	// EndCancel: the caller canceled the INVITE before we answered.
	EndCancel
	// EndAckTimeout: no ACK for our 2xx within 64*T1; we sent BYE.
	EndAckTimeout
	// EndSessionExpired: the peer did not refresh the session in time, or
	// refused our refresh (RFC 4028); we sent BYE.
	EndSessionExpired
	// EndTransport: a request of ours in the dialog could not be sent.
	EndTransport
	// EndNegotiation: the answer in the ACK to our offer (an INVITE
	// without SDP) was missing or unusable; we sent BYE.
	EndNegotiation
)

// EndReason describes the end of a dialog.
type EndReason struct {
	// Cause says what ended the dialog.
	Cause EndCause
	// Err gives detail when there is any (wrapping ErrTimeout for an ACK
	// timeout or a missing refresh, a *StatusError for a refused refresh).
	Err error
}

// InviteRequest describes an outbound call.
type InviteRequest struct {
	// Target is the destination as the application gave it: a sip: or sips:
	// URI (or user@host), a tel: URI, or a bare number or user routed
	// through the first trunk; see Agent.Invite for the rules. sips: and
	// ;transport=tls need Config.TLS.
	Target string
	// CallerID is the user part presented in From; empty means "mediaserver".
	// A trunk's FromUser replaces it.
	CallerID string
	// DisplayName is the From display name.
	DisplayName string
	// Local is our media: its address (default Config.PublicHost), port,
	// codecs and direction make our offer.
	Local LocalMedia
}
