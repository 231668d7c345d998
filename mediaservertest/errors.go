package mediaservertest

import (
	"errors"
	"fmt"
)

// Sentinel errors of package mediaservertest.
var (
	// ErrPhoneClosed is returned by Phone and Call methods once the phone is closed.
	ErrPhoneClosed = errors.New("mediaservertest: phone closed")
	// ErrCallEnded is returned by Call methods that need a live call.
	ErrCallEnded = errors.New("mediaservertest: call ended")
	// ErrNotAnswered is returned by Call methods that need an answered call.
	ErrNotAnswered = errors.New("mediaservertest: call not answered")
	// ErrNoTelephoneEvent is returned by SendDigits in RFC 4733 mode when no
	// telephone-event payload type was negotiated.
	ErrNoTelephoneEvent = errors.New("mediaservertest: no telephone-event negotiated")
	// ErrNotSending is returned by SendDigits in an RTP mode while the call may
	// not send media (on hold, or put on hold by the remote side).
	ErrNotSending = errors.New("mediaservertest: call is not sending media")
	// ErrNoCommonCodec is the cause of a 488 answer, and of a failed Dial
	// whose answer names no codec the phone offered.
	ErrNoCommonCodec = errors.New("mediaservertest: no common codec")
	// ErrSRTPMismatch is the cause of a 488 answer to an offer whose
	// profile does not match PhoneConfig.SRTP (a plain RTP/AVP offer to an
	// SRTP phone, an RTP/SAVP one to a plain phone, an RTP/SAVP offer without
	// a usable a=crypto line), and of a failed Dial whose answer does not
	// match the offer that way.
	ErrSRTPMismatch = errors.New("mediaservertest: srtp offer and answer do not match")
	// ErrBadSDP is returned (wrapped) when a remote SDP cannot be used.
	ErrBadSDP = errors.New("mediaservertest: malformed sdp")
	// ErrBadWAV is returned (wrapped) by ReadWAV and DecodeWAV for input that
	// is not a WAV file they can decode.
	ErrBadWAV = errors.New("mediaservertest: invalid or unsupported wav")
	// ErrBadDigit is returned by SendDigits for a character that is not a
	// DTMF digit (0-9, *, #, A-D).
	ErrBadDigit = errors.New("mediaservertest: invalid dtmf digit")
)

// StatusError is a final SIP response other than 2xx: the answer to an INVITE
// this phone sent (returned by Dial) or to another request sent in a dialog.
// Test with errors.As:
//
//	var se *mediaservertest.StatusError
//	if errors.As(err, &se) && se.Code == 486 { ... }
type StatusError struct {
	// Code is the SIP status code, e.g. 486.
	Code int
	// Reason is the reason phrase of the response, e.g. "Busy Here".
	Reason string
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("mediaservertest: remote answered %d %s", e.Code, e.Reason)
}

// ConfigError reports an invalid PhoneConfig field.
type ConfigError struct {
	// Field is the PhoneConfig field name, e.g. "Ptime".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("mediaservertest: PhoneConfig.%s: %s", e.Field, e.Reason)
}
