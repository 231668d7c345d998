// Package leak holds the goleak options the module's tests share.
package leak

import "go.uber.org/goleak"

// Options are the exceptions to the leak checks of packages that run SIP
// over sipgo. There is one, a sipgo bug we have not fixed: now and then
// sipgo sends over a UDP socket it opens itself (bound to 0.0.0.0)
// instead of the listener, and that socket, orphaned from its connection
// pool, is not closed by the transport layer's Close, so its reader
// outlives everything (about one run in six or eight of the sip or root
// package under load; it reproduces on code older than this package).
// Only that reader, TransportUDP.readUDPConnection, is ignored: it runs
// only for sockets sipgo opened, never for our listener (whose reader is
// readListenerConnection alone), and every other goroutine still fails.
func Options() []goleak.Option {
	return []goleak.Option{goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection")}
}
