package sip

import (
	"context"
	"log/slog"
)

// Log attribute keys, spelled like the protocol's JSON names (DESIGN.md
// decision 23) so that logs and callbacks correlate.
const (
	keyCallID     = "callId"
	keyMethod     = "method"
	keyStatus     = "status"
	keyRemoteAddr = "remoteAddr"
	keyErr        = "err"
	keyCause      = "cause"
)

// sipgoUntrusted lists the messages sipgo logs at Warn or Error when a peer
// sends something it cannot parse or match. Anybody on the network can
// trigger them, so they are demoted to Debug: never log untrusted input at
// Warn or Error (STYLE.md C6).
var sipgoUntrusted = map[string]bool{
	"failed to parse":                                             true,
	"Server tx failed to handle request":                          true,
	"Client tx failed to handle response":                         true,
	"Failed to send stateless 400 for malformed request":          true,
	"ACK loop retransimission. Resending after T2":                true,
	"SIP request handler not found":                               true,
	"client transport error detected. Waiting for retransmission": true,
	"send ACK request failed":                                     true,
	"Read filter error":                                           true,
	"Failed to pong keep alive":                                   true,
	"Read error":                                                  true,
	"Read connection error":                                       true,
	"DNS resolution is slow":                                      true,
	"Doing SRV lookup failed.":                                    true,
	"UDP ref went negative on try close":                          true,
	"TCP ref went negative":                                       true,
	"connection pool not clean cleanup":                           true,
	"send '100 Trying' response failed":                           true,
}

// sipgoRawKeys are attributes under which sipgo logs whole messages or raw
// datagrams; they are dropped at every level.
var sipgoRawKeys = map[string]bool{"data": true, "msg": true, "req": true, "res": true,
	"invite_request": true, "invite_response": true, "cancel_request": true}

// sipgoHandler wraps our slog.Handler for the loggers handed to sipgo: it
// demotes sipgo's Info logs and its Warn/Error logs about peer input to
// Debug, and drops attributes that carry raw SIP messages.
type sipgoHandler struct {
	inner slog.Handler
}

func newSipgoLogger(l *slog.Logger) *slog.Logger {
	return slog.New(sipgoHandler{inner: l.Handler()}).With("component", "sipgo")
}

// Enabled reports whether any record could pass: sipgo's levels are
// rewritten in Handle, so ask the inner handler about Debug as well.
func (h sipgoHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l) || h.inner.Enabled(ctx, slog.LevelDebug)
}

// Handle rewrites the record's level and attributes, then passes it on.
func (h sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	level := r.Level
	switch {
	case level < slog.LevelWarn:
		level = slog.LevelDebug
	case sipgoUntrusted[r.Message]:
		level = slog.LevelDebug
	}
	if !h.inner.Enabled(ctx, level) {
		return nil
	}
	out := slog.NewRecord(r.Time, level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if !sipgoRawKeys[a.Key] {
			out.AddAttrs(a)
		}
		return true
	})
	return h.inner.Handle(ctx, out)
}

// WithAttrs drops raw-message attributes bound with Logger.With as well.
func (h sipgoHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	kept := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if !sipgoRawKeys[a.Key] {
			kept = append(kept, a)
		}
	}
	return sipgoHandler{inner: h.inner.WithAttrs(kept)}
}

// WithGroup keeps the wrapper around the grouped handler.
func (h sipgoHandler) WithGroup(name string) slog.Handler {
	return sipgoHandler{inner: h.inner.WithGroup(name)}
}
