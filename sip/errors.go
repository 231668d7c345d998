package sip

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors of package sip. Match them with errors.Is: the errors the
// package returns wrap them with the operation that failed.
var (
	// ErrClosed is returned by Serve after Close or the end of its context,
	// and by every method called on a closed Agent.
	ErrClosed = errors.New("sip: agent closed")
	// ErrNotReady is returned by Invite before Serve has bound the listeners.
	ErrNotReady = errors.New("sip: agent not serving")
	// ErrNoCommonCodec means an SDP offer or answer shares no audio codec with
	// us (a 488 Not Acceptable Here).
	ErrNoCommonCodec = errors.New("sip: no common codec")
	// ErrNoSRTP means an SDP offer or answer had no stream we could accept
	// under Config.SRTP: an RTP/SAVP stream without an acceptable crypto
	// attribute, SRTP over signalling that is not TLS, or plain RTP when
	// SRTPRequired. It wraps ErrNoCommonCodec (a 488 either way).
	ErrNoSRTP = fmt.Errorf("sip: no acceptable srtp: %w", ErrNoCommonCodec)
	// ErrBadSDP means an SDP body could not be parsed even after normalisation.
	ErrBadSDP = errors.New("sip: malformed sdp")
	// ErrTimeout means a transaction timer expired (Timer B: nobody
	// answered the INVITE at all, decision 13 "unreachable").
	ErrTimeout = errors.New("sip: transaction timeout")
	// ErrNoAnswer means the callee rang for Config.NoAnswerTimeout without
	// answering (decision 13 "noAnswer"). It also wraps ErrTimeout.
	ErrNoAnswer = fmt.Errorf("sip: no answer: %w", ErrTimeout)
	// ErrTransport means a message could not be sent or a connection failed.
	ErrTransport = errors.New("sip: transport failure")
	// ErrCallEnded is returned by methods of a call that has already ended.
	ErrCallEnded = errors.New("sip: call ended")
	// ErrInvalidState is returned by a call method that is not valid in the
	// call's current state, such as Answer after Reject or Progress after
	// Answer.
	ErrInvalidState = errors.New("sip: invalid call state")
	// ErrNoRoute means Invite could not route its target: a bare number or
	// user was given and no trunk is configured, or the target is malformed.
	ErrNoRoute = errors.New("sip: no route to target")
)

// StatusError is a SIP final response that failed or rejected a call.
// OnFail receives it for a final non-2xx answer to an outbound INVITE.
type StatusError struct {
	// Code is the SIP status code, 300 to 699.
	Code int
	// Reason is the reason phrase of the response.
	Reason string
}

// Error returns "sip: <code> <reason>".
func (e *StatusError) Error() string { return "sip: " + strconv.Itoa(e.Code) + " " + e.Reason }

// ConfigError reports an invalid Config field; NewAgent joins several with
// errors.Join.
type ConfigError struct {
	// Field is the name of the Config field, e.g. "Trunks[0].Proxy".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns "sip: config <field>: <reason>".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("sip: config ")
	b.WriteString(e.Field)
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}
