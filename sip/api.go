package sip

// This file is the contract between package sip and the root package. The
// implementation may move these declarations into other files of the package
// and may add to them, but must keep every exported name and meaning below.

import (
	"context"
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

// The codecs this server speaks, in default preference order.
var (
	PCMU = Codec{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	PCMA = Codec{PayloadType: 8, Name: "PCMA", ClockRate: 8000}
)

// Direction is an SDP media direction attribute.
type Direction uint8

// Directions of RFC 3264. The zero value means sendrecv.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
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
	// Codec is the one audio codec chosen.
	Codec Codec
	// TelephoneEvent is the RFC 4733 payload type, or -1 when none was negotiated.
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
	// Addr is the advertised RTP address (c= line).
	Addr netip.Addr
	// Port is our RTP port; RTCP is Port+1 unless rtcp-mux is agreed.
	Port int
	// Codecs lists what we accept in preference order; nil means PCMU, PCMA.
	Codecs []Codec
	// Direction is our direction in an offer we make: SendRecv by default,
	// SendOnly for a listen-only monitor leg. In answers the direction is
	// derived from the offer (decision 6).
	Direction Direction
}

// Address is a name-addr of a From or To header.
type Address struct {
	DisplayName string
	// URI is the whole URI, e.g. "sip:alice@example.com".
	URI string
	// User is the user part of the URI ("alice"), empty when it has none.
	User string
	// Host is the host[:port] part of the URI.
	Host string
}

// Trunk is an outbound route (decision 13).
type Trunk struct {
	// Name identifies the trunk.
	Name string
	// Proxy is host:port where requests for this trunk are sent.
	Proxy string
	// Domain is used for bare numbers: sip:+E164@Domain;user=phone.
	Domain string
	// Transport is "udp" (default) or "tcp".
	Transport string
	// Username and Password answer 401/407 digest challenges.
	Username, Password string
	// FromUser and FromDomain, when set, replace the From identity.
	FromUser, FromDomain string
	// PAssertedIdentity, when set, is sent as P-Asserted-Identity.
	PAssertedIdentity string
}

// Config configures an Agent. The zero value of each field means its default.
type Config struct {
	// ListenAddr is host:port for UDP and TCP. Default "127.0.0.1:5060";
	// port 0 picks a free port (the same number for UDP and TCP).
	ListenAddr string
	// PublicHost is the host advertised in Contact and Via. Default: the
	// listen IP.
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
	// was sent and its SDP (if any) was parsed and found acceptable. It runs on
	// a SIP goroutine and must not block: it returns the handler for the call's
	// later events, or nil after it called Reject.
	OnInvite func(call *InboundCall) DialogHandler
	// Draining, when it returns true, makes the agent answer out-of-dialog
	// OPTIONS and new INVITEs with 503 and Retry-After (decision 20).
	Draining func() bool
}

// DialogHandler receives the events of one call. Its methods are called on
// SIP goroutines, one at a time per call, and must not block.
type DialogHandler interface {
	// OnAck is called when the ACK for our 2xx arrives (inbound calls).
	OnAck()
	// OnMedia is called when the remote media description changes: an SDP
	// answer in an ACK, a re-INVITE or an UPDATE. It has already been answered.
	OnMedia(m Media)
	// OnDTMF is called for a digit received by SIP INFO.
	OnDTMF(digit byte, duration time.Duration)
	// OnEnd is called once when the dialog ends for any reason other than our
	// own Hangup/Reject: remote BYE, CANCEL, ACK timeout, session expiry,
	// transport failure.
	OnEnd(reason EndReason)
}

// OutboundHandler receives the events of an outbound call.
type OutboundHandler interface {
	DialogHandler
	// OnProgress is called for 180/183; early is non-nil when the response
	// carried SDP (early media).
	OnProgress(code int, early *Media)
	// OnAnswer is called once the 2xx arrived and was acknowledged.
	OnAnswer(m Media)
	// OnFail is called once when the call fails before answer: err is a
	// *StatusError for a final response, or wraps ErrTimeout or ErrTransport.
	OnFail(err error)
}

// EndCause says why a dialog ended.
type EndCause uint8

// End causes.
const (
	EndBye EndCause = iota + 1
	EndCancel
	EndAckTimeout
	EndSessionExpired
	EndTransport
	// EndNegotiation: the answer in the ACK to our offer (an INVITE
	// without SDP) was missing or unusable; we sent BYE.
	EndNegotiation
)

// EndReason describes the end of a dialog.
type EndReason struct {
	Cause EndCause
	Err   error
}

// InviteRequest describes an outbound call.
type InviteRequest struct {
	// Target is the destination as the application gave it: a sip:, sips: or
	// tel: URI, or a bare number/user routed through the default trunk.
	Target string
	// CallerID is the user part presented in From; empty means "mediaserver".
	CallerID string
	// DisplayName is the From display name.
	DisplayName string
	// Local is our media.
	Local LocalMedia
}

// The method sets below are the contract; stubs.go holds placeholders until
// the implementation lands.
//
// Agent:
//
//	func NewAgent(cfg Config) (*Agent, error)
//	func (a *Agent) Serve(ctx context.Context) error // blocks until ctx done or Close; returns ErrClosed then
//	func (a *Agent) Ready() <-chan struct{}          // closed once UDP and TCP listeners are bound
//	func (a *Agent) UDPAddr() netip.AddrPort
//	func (a *Agent) TCPAddr() netip.AddrPort
//	func (a *Agent) Invite(ctx context.Context, req InviteRequest, h OutboundHandler) (*OutboundCall, error)
//	func (a *Agent) Close() error // stops listening, ends background transactions, waits for its goroutines
//
// InboundCall (a server INVITE dialog, unanswered until Answer):
//
//	func (c *InboundCall) CallID() string
//	func (c *InboundCall) From() Address
//	func (c *InboundCall) To() Address
//	func (c *InboundCall) RequestURI() string
//	func (c *InboundCall) Source() netip.AddrPort
//	func (c *InboundCall) Header(name string) string
//	func (c *InboundCall) Negotiate(local LocalMedia) (Media, error) // ErrNoCommonCodec; offerless INVITE: zero Media, answer comes in OnMedia after ACK
//	func (c *InboundCall) Progress(code int, withSDP bool) error     // 180, or 183 with our answer
//	func (c *InboundCall) Answer() error                             // 200 with our answer (or offer); retransmitted until ACK
//	func (c *InboundCall) Reject(code int, reason string) error      // final non-2xx before answer
//	func (c *InboundCall) Hangup() error                             // BYE after answer (waits for ACK per RFC 3261 §15), else 480
//
// OutboundCall (a client INVITE dialog):
//
//	func (c *OutboundCall) CallID() string
//	func (c *OutboundCall) Hangup() error // CANCEL before answer (after a provisional), BYE after
var _ context.Context
