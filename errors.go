package mediaserver

import (
	"errors"
	"fmt"
)

// Sentinel errors. Server methods wrap them with context; test with
// errors.Is. The callback adapter maps them to HTTP statuses: ErrInvalid
// 400, ErrNotFound 404, ErrStaleReply and ErrInvalidState 409.
var (
	// ErrServerClosed is returned by Serve after Shutdown or Close, and by
	// methods called after them.
	ErrServerClosed = errors.New("mediaserver: server closed")
	// ErrInvalid means a request is malformed or misses a required field.
	ErrInvalid = errors.New("mediaserver: invalid request")
	// ErrNotFound means an unknown session, participant, connection or
	// file, or a replyId whose signature does not verify (decision 3).
	ErrNotFound = errors.New("mediaserver: not found")
	// ErrStaleReply means a replyId of an older generation of its object:
	// the connection was dissolved or the participant moved on (decision 3).
	ErrStaleReply = errors.New("mediaserver: stale replyId")
	// ErrInvalidState means the request does not fit the object's state,
	// e.g. connect with a participant that left.
	ErrInvalidState = errors.New("mediaserver: invalid state")
	// ErrTooLarge means an upload exceeds its size limit.
	ErrTooLarge = errors.New("mediaserver: too large")
	// ErrMaxSessions means Config.MaxSessions sessions are active.
	ErrMaxSessions = errors.New("mediaserver: too many sessions")
)

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("mediaserver: config %s: %s", e.Field, e.Reason)
}

// errParticipantLeft cancels a Handler call about a participant that left.
var errParticipantLeft = errors.New("mediaserver: participant left")

// errDecisionTimeout marks a Handler that did not answer in time.
var errDecisionTimeout = errors.New("mediaserver: decision timeout")

// PanicError is a Handler panic recovered at the callback boundary.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("mediaserver: handler panic: %v", e.Value) }
