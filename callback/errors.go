package callback

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors of token verification (Verify and the REST API's JWT
// check). Test with errors.Is.
var (
	// ErrNoToken means the request carries no "Authorization: Bearer" token.
	ErrNoToken = errors.New("callback: no bearer token")
	// ErrMalformedToken means the token is not a compact JWS with a JSON
	// header and claims, or uses an algorithm other than the expected one.
	ErrMalformedToken = errors.New("callback: malformed token")
	// ErrBadSignature means the token's signature does not verify with the
	// configured key.
	ErrBadSignature = errors.New("callback: bad token signature")
	// ErrExpired means the token is outside its validity window: exp has
	// passed, iat lies in the future, or exp is missing (beyond the leeway).
	ErrExpired = errors.New("callback: token expired or not yet valid")
	// ErrPathMismatch means the token's path claim names another callback.
	ErrPathMismatch = errors.New("callback: token path mismatch")
	// ErrBodyMismatch means the token's bodySha256 claim is not the hash of
	// the body received.
	ErrBodyMismatch = errors.New("callback: body hash mismatch")
	// ErrIssuerMismatch means the token's iss claim is not the expected one.
	ErrIssuerMismatch = errors.New("callback: token issuer mismatch")
	// ErrDomainMismatch means the token's domain claim does not allow the
	// domain of the request.
	ErrDomainMismatch = errors.New("callback: token domain mismatch")
)

// Sentinel errors of callback delivery.
var (
	// ErrClosed is returned by the Handler's methods after Shutdown or Close.
	ErrClosed = errors.New("callback: handler closed")
	// ErrQueueFull means a sessionCompleted or recordingReady callback was
	// dropped because the delivery queue was full.
	ErrQueueFull = errors.New("callback: delivery queue full")
	// ErrBadAnswer means the application answered a decision callback with
	// 2xx but the body is not a valid answer: not JSON, wrong types, too
	// large, or an unknown or incomplete action.
	ErrBadAnswer = errors.New("callback: bad answer")
)

// DeliveryError reports a callback that the application did not accept:
// a transport failure or timeout (StatusCode 0), or a non-2xx status.
// Err is the cause; it wraps context.DeadlineExceeded on a timeout.
type DeliveryError struct {
	// URL is the full URL posted to.
	URL string
	// StatusCode is the HTTP status received, 0 when there was none.
	StatusCode int
	// Attempt counts from 1.
	Attempt int
	// Err is the transport error, or nil for a bad status.
	Err error
}

func (e *DeliveryError) Error() string {
	s := "callback: POST " + e.URL
	if e.Attempt > 1 {
		s += " (attempt " + strconv.Itoa(e.Attempt) + ")"
	}
	if e.StatusCode != 0 {
		s += ": status " + strconv.Itoa(e.StatusCode)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// retryable reports whether another attempt (or the fallback URL) may
// succeed: no answer, a timeout, 5xx, 408 or 429.
func (e *DeliveryError) retryable() bool {
	switch {
	case e.StatusCode == 0:
		return true
	case e.StatusCode >= 500, e.StatusCode == 408, e.StatusCode == 429:
		return true
	}
	return false
}

// answerError wraps ErrBadAnswer with what was wrong.
func answerError(url, format string, args ...any) error {
	return fmt.Errorf("%w from %s: %s", ErrBadAnswer, url, fmt.Sprintf(format, args...))
}
