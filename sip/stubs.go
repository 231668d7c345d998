package sip

import (
	"context"
	"errors"
	"net/netip"
)

// Sentinel errors of package sip.
var (
	ErrClosed        = errors.New("sip: agent closed")
	ErrNoCommonCodec = errors.New("sip: no common codec")
	ErrBadSDP        = errors.New("sip: malformed sdp")
	ErrTimeout       = errors.New("sip: transaction timeout")
	ErrTransport     = errors.New("sip: transport failure")
	ErrCallEnded     = errors.New("sip: call ended")
)

var errStub = errors.New("sip: not implemented")

// Agent is a SIP user agent serving UDP and TCP.
type Agent struct{}

// NewAgent creates an agent.
func NewAgent(cfg Config) (*Agent, error) { return nil, errStub }

// Serve serves until ctx ends or Close.
func (a *Agent) Serve(ctx context.Context) error { return errStub }

// Ready is closed once the listeners are bound.
func (a *Agent) Ready() <-chan struct{} { return nil }

// UDPAddr is the bound UDP address.
func (a *Agent) UDPAddr() netip.AddrPort { return netip.AddrPort{} }

// TCPAddr is the bound TCP address.
func (a *Agent) TCPAddr() netip.AddrPort { return netip.AddrPort{} }

// Invite starts an outbound call.
func (a *Agent) Invite(ctx context.Context, req InviteRequest, h OutboundHandler) (*OutboundCall, error) {
	return nil, errStub
}

// Close stops the agent.
func (a *Agent) Close() error { return nil }

// InboundCall is a server INVITE dialog.
type InboundCall struct{}

func (c *InboundCall) CallID() string                            { return "" }
func (c *InboundCall) From() Address                             { return Address{} }
func (c *InboundCall) To() Address                               { return Address{} }
func (c *InboundCall) RequestURI() string                        { return "" }
func (c *InboundCall) Source() netip.AddrPort                    { return netip.AddrPort{} }
func (c *InboundCall) Header(name string) string                 { return "" }
func (c *InboundCall) Negotiate(local LocalMedia) (Media, error) { return Media{}, errStub }
func (c *InboundCall) Progress(code int, withSDP bool) error     { return errStub }
func (c *InboundCall) Answer() error                             { return errStub }
func (c *InboundCall) Reject(code int, reason string) error      { return errStub }
func (c *InboundCall) Hangup() error                             { return errStub }

// OutboundCall is a client INVITE dialog.
type OutboundCall struct{}

func (c *OutboundCall) CallID() string { return "" }
func (c *OutboundCall) Hangup() error  { return errStub }
