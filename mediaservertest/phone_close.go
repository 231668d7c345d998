package mediaservertest

import (
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Close hangs up the phone's calls (BYE, or CANCEL while ringing, bounded to
// one second), closes its sockets and waits for its goroutines. Inbound calls
// still ringing are rejected with 480. Close is idempotent; NewPhone
// registers it with tb.Cleanup. Calls end with EndPhoneClosed unless the
// hangup ended them first.
func (p *Phone) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.shutdown() })
	return p.closeErr
}

func (p *Phone) shutdown() error {
	p.mu.Lock()
	p.closed = true
	calls := slices.Collect(maps.Values(p.calls))
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), closeHangupTimeout)
	var hangups sync.WaitGroup
	for _, c := range calls {
		hangups.Go(func() { c.hangupOnClose(ctx) })
	}
	hangups.Wait()
	cancel()
	// Ringing inbound calls now get 480; let the handlers send it before the
	// sockets close, but do not wait for ACKs that may never come.
	p.cancel()
	handlersDone := make(chan struct{})
	go func() {
		p.handlers.Wait()
		close(handlersDone)
	}()
	t := time.NewTimer(closeHangupTimeout)
	select {
	case <-handlersDone:
	case <-t.C:
	}
	t.Stop()
	for _, c := range calls {
		c.finish(EndPhoneClosed, 0, ErrPhoneClosed)
	}
	p.sipMu.Lock() // waits for refuse to finish its 503s on the listeners
	p.sipDown = true
	p.sipMu.Unlock()
	err := p.closeListeners()
	if cerr := p.ua.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		p.log.Debug("closing sipgo", "err", cerr)
	}
	p.wg.Wait()
	<-handlersDone // sipgo's Close ended the transactions handlers wait on
	// A handler that outlived the wait above, or a dial goroutine, may have
	// sent after the listeners closed: a response or an ACK for which sipgo
	// opened a new connection (and started its reader) after its Close
	// cleared its pool. They are done, so clear it again.
	p.closeLateConnections()
	p.mu.Lock()
	calls = slices.Collect(maps.Values(p.calls)) // created by handlers that were running
	p.mu.Unlock()
	for _, c := range calls {
		c.finish(EndPhoneClosed, 0, ErrPhoneClosed)
	}
	if p.logw != nil {
		p.logw.close()
	}
	return err
}

// refuse answers a request that arrived while the phone closes, from
// sipgo's goroutine of that request: 503 while the listeners are open, and
// nothing once they are closed. sipgo hands each request to a goroutine of
// its own; one that runs after the listeners closed finds no connection to
// answer on and opens a new one (with a reader goroutine) after Close
// cleared sipgo's pool. refuse closes such connections, since nothing else
// would.
func (p *Phone) refuse(req *sip.Request, tx sip.ServerTransaction) {
	p.sipMu.RLock()
	defer p.sipMu.RUnlock()
	if p.sipDown {
		p.closeLateConnections()
		return
	}
	if !req.IsAck() {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil))
	}
}

// closeLateConnections closes the connections sipgo opened after Close
// cleared its pool.
func (p *Phone) closeLateConnections() {
	if err := p.ua.TransportLayer().Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		p.log.Debug("closing sipgo's late connections", "err", err)
	}
}
