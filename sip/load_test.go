package sip

import (
	"runtime"
	"testing"
	"time"
)

// TestGoroutinesUnderLoad checks the sipgo#349 trap: finished transactions
// must not each keep a goroutine parked for the transaction lifetime.
func TestGoroutinesUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	app := newInboundApp(t)
	rejectNext := make(chan bool, 1000)
	app.onInvite = func(c *InboundCall) DialogHandler {
		if <-rejectNext {
			_ = c.Reject(486, "")
			return nil
		}
		if _, err := c.Negotiate(LocalMedia{Addr: mustAddr("127.0.0.1"), Port: 40000}); err != nil {
			panic(err)
		}
		_ = c.Answer()
		return app.rec
	}
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	base := runtime.NumGoroutine()
	const n = 200
	for i := range n {
		reject := i%2 == 0
		rejectNext <- reject
		d := p.newDialog()
		branch := d.invite(sdpOffer(30000, "0"))
		p.expect(100)
		if reject {
			res := p.expect(486)
			d.toTag = tagOf(res.To().Params)
			p.send("ACK "+d.ruri+" SIP/2.0", d.headers("ACK", 1, branch), "")
			continue
		}
		d.established(p.expect(200))
		d.ack(1, "")
		app.rec.expect("ack")
		d.req("BYE", "")
		p.expect(200)
		app.rec.expect("end")
		d.req("INFO", "")
		p.expect(481)
	}
	// Let in-flight message goroutines finish, well before sipgo's Timer I
	// (5 s) would release parked ones.
	deadline := time.Now().Add(4 * time.Second)
	var now int
	for {
		now = runtime.NumGoroutine()
		if now-base < n/10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("goroutines: %d before, %d after %d calls", base, now, n)
	if now-base >= n/10 {
		t.Fatalf("%d goroutines left after %d calls (%d before)", now, n, base)
	}
}
