package media

import "errors"

// Sentinel errors of the packet parsers and generators in this package.
// Errors returned by the parsers wrap one of these with detail; match them
// with errors.Is.
var (
	// ErrMalformedRTP reports an RTP packet that violates RFC 3550 §5.1:
	// too short, wrong version, or a CSRC list, header extension or padding
	// that does not fit in the packet.
	ErrMalformedRTP = errors.New("media: malformed rtp packet")

	// ErrMalformedRTCP reports an RTCP compound packet that fails the
	// validity checks of RFC 3550 §6.4 and appendix A.2.
	ErrMalformedRTCP = errors.New("media: malformed rtcp packet")

	// ErrMalformedDTMF reports an RFC 4733 telephone-event payload shorter
	// than the 4-byte event report.
	ErrMalformedDTMF = errors.New("media: malformed dtmf event")

	// ErrInvalidDigit reports a DTMF digit outside 0-9, *, #, A-D.
	ErrInvalidDigit = errors.New("media: invalid dtmf digit")

	// ErrInvalidDuration reports a DTMF duration that is not positive or
	// does not fit one RFC 4733 event (at most 8 s here).
	ErrInvalidDuration = errors.New("media: invalid dtmf duration")

	// ErrDTMFBusy reports a DTMFSender asked to start a digit while the
	// previous one is still being sent.
	ErrDTMFBusy = errors.New("media: dtmf sender busy")
)

// Unexported errors wrap the sentinels above so that parsers can report a
// cause without allocating on the (attacker-reachable) error path.
var (
	errRTPShort     = wrapErr(ErrMalformedRTP, "shorter than the fixed header")
	errRTPVersion   = wrapErr(ErrMalformedRTP, "version is not 2")
	errRTPCSRC      = wrapErr(ErrMalformedRTP, "csrc list exceeds packet")
	errRTPExtension = wrapErr(ErrMalformedRTP, "header extension exceeds packet")
	errRTPPadding   = wrapErr(ErrMalformedRTP, "invalid padding length")

	errRTCPShort   = wrapErr(ErrMalformedRTCP, "shorter than a header")
	errRTCPVersion = wrapErr(ErrMalformedRTCP, "version is not 2")
	errRTCPLength  = wrapErr(ErrMalformedRTCP, "length field exceeds packet")
	errRTCPPadding = wrapErr(ErrMalformedRTCP, "invalid padding")
	errRTCPFirst   = wrapErr(ErrMalformedRTCP, "first packet type not in 200-207")
	errRTCPReport  = wrapErr(ErrMalformedRTCP, "report count exceeds packet")

	errDTMFShort = wrapErr(ErrMalformedDTMF, "payload shorter than 4 bytes")
)

// detailError is a sentinel with detail. It is immutable.
type detailError struct {
	sentinel error
	detail   string
}

func wrapErr(sentinel error, detail string) error {
	return &detailError{sentinel: sentinel, detail: detail}
}

func (e *detailError) Error() string { return e.sentinel.Error() + ": " + e.detail }

func (e *detailError) Unwrap() error { return e.sentinel }
