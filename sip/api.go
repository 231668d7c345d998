package sip

// This file is the contract between package sip and the root package: the
// plain-value types and interfaces. The Agent is in agent.go, the calls in
// inbound.go and outbound.go, errors in errors.go.

import (
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
}

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
	// Transport is "udp" (default) or "tcp".
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
	// OnInvite is called for every valid out-of-dialog INVITE after 100 Trying
	// was sent and its SDP (if any) was parsed and found acceptable with
	// PCMU/PCMA (else the agent answered 400 or 488 itself). It runs on a SIP
	// goroutine and must not block: it returns the handler for the call's
	// later events, or nil after it called Reject (a nil return without
	// Reject rejects with 480). It is the call's first event: a CANCEL
	// arriving meanwhile is reported to the returned handler after it. With
	// OnInvite nil, INVITEs get 503.
	OnInvite func(call *InboundCall) DialogHandler
	// Draining, when it returns true, makes the agent answer out-of-dialog
	// OPTIONS and new INVITEs with 503 and Retry-After (decision 20).
	Draining func() bool
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
	// answer to our session refresh.
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
	// ErrNoCommonCodec (an unusable 2xx, which we ACK and BYE).
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
	// Target is the destination as the application gave it: a sip: URI (or
	// user@host), a tel: URI, or a bare number or user routed through the
	// first trunk; see Agent.Invite for the rules. sips: is refused (no TLS).
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
