package sip

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestOutboundGiveUpWithoutProvisional(t *testing.T) {
	clk := newFakeClock()
	a := startAgent(t, Config{}, agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	oc := invite(t, a, "sip:bob@"+p.host, rec)
	p.request()
	if err := oc.Hangup(); err != nil {
		t.Fatal(err)
	}
	c := oc.c
	c.mu.Lock()
	tx := c.o.tx
	c.mu.Unlock()
	// No provisional response ever: after 64*T1 the INVITE is abandoned,
	// without CANCEL and without events.
	clk.Advance(64 * a.t1)
	select {
	case <-tx.Done():
	case <-time.After(waitTimeout):
		t.Fatal("INVITE transaction not abandoned")
	}
	if rec.pending() != 0 {
		t.Fatalf("events after Hangup: %+v", rec.next())
	}
}

func TestOutbound422Retry(t *testing.T) {
	a := startAgent(t, Config{SessionExpires: 120 * time.Second}, agentOpts{})
	p := newUDPPeer(t, a)
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	p.reply(inv, 422, "x", []string{"Min-SE: 600"}, "")
	p.request() // ACK
	inv2 := p.request()
	if h := inv2.GetHeader("Session-Expires"); h == nil || h.Value() != "600" {
		t.Fatalf("retry Session-Expires %v", h)
	}
	p.reply(inv2, 200, "bob", []string{p.contactHdr()}, sdpOffer(35000, "0"))
	p.request() // ACK
	rec.expect("answer")
}

func TestTxErrorMapping(t *testing.T) {
	a, err := NewAgent(Config{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.txError(sip.INVITE, fmt.Errorf("Timer_B timed out. %w", sip.ErrTransactionTimeout)); !errors.Is(err, ErrTimeout) {
		t.Errorf("timeout: %v", err)
	}
	if err := a.txError(sip.INVITE, fmt.Errorf("x. %w", sip.ErrTransactionTransport)); !errors.Is(err, ErrTransport) {
		t.Errorf("transport: %v", err)
	}
	if err := a.txError(sip.BYE, sip.ErrTransactionTerminated); !errors.Is(err, ErrTransport) {
		t.Errorf("terminated: %v", err)
	}
}

func TestInboundNegotiateAndEarlyMedia(t *testing.T) {
	app := newInboundApp(t)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0"))
	p.expect(100)
	c := app.call(t)
	if err := c.Answer(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("Answer before Negotiate: %v", err)
	}
	if err := c.Progress(183, true); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("183 with SDP before Negotiate: %v", err)
	}
	if _, err := c.Negotiate(LocalMedia{Addr: mustAddr("127.0.0.1"), Port: 40000, Codecs: []Codec{PCMA}}); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("Negotiate without a common codec: %v", err)
	}
	if _, err := c.Negotiate(LocalMedia{Port: 40000}); err != nil {
		t.Fatalf("Negotiate with the default address: %v", err)
	}
	if err := c.Progress(183, true); err != nil {
		t.Fatal(err)
	}
	early := p.expect(183)
	if !hasLine(early.Body(), "m=audio 40000 RTP/AVP 0") || !hasLine(early.Body(), "c=IN IP4 127.0.0.1") {
		t.Fatalf("183 SDP:\n%s", early.Body())
	}
	if err := c.Answer(); err != nil {
		t.Fatal(err)
	}
	res := p.expect(200)
	// The 200 repeats the 183's SDP: same o= version.
	if originVersion(t, res.Body()) != originVersion(t, early.Body()) {
		t.Fatalf("o= changed between 183 and 200")
	}
	if err := c.Progress(180, false); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("Progress after Answer: %v", err)
	}
	if err := c.Reject(486, ""); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("Reject after Answer: %v", err)
	}
	// BYE before the ACK ends the call.
	d.established(res)
	d.req("BYE", "")
	p.expect(200)
	if e := app.rec.expect("end"); e.reason.Cause != EndBye {
		t.Fatalf("end %+v", e.reason)
	}
}

func TestOnInviteNilAndPanics(t *testing.T) {
	calls := 0
	a := startAgent(t, Config{OnInvite: func(c *InboundCall) DialogHandler {
		calls++
		if calls == 1 {
			return nil // forgot to Reject
		}
		panic("handler bug")
	}}, agentOpts{})
	p := newUDPPeer(t, a)
	for _, want := range []int{480, 500} {
		d := p.newDialog()
		d.invite(sdpOffer(30000, "0"))
		p.expect(100)
		p.expect(want)
	}
	// The panic was recovered; the agent still serves.
	o := p.newDialog()
	o.req("OPTIONS", "")
	p.expect(200)
}

func TestCloseEndsCalls(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a, err := NewAgent(Config{ListenAddr: "127.0.0.1:0", OnInvite: app.OnInvite, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(t.Context()) }()
	<-a.Ready()
	p := newUDPPeer(t, a)
	establish(t, p, app, sdpOffer(30000, "0"))
	// An outbound call that is ringing.
	rec := newRecorder(t)
	invite(t, a, "sip:bob@"+p.host, rec)
	inv := p.request()
	p.reply(inv, 180, "ring", nil, "")
	rec.expect("progress")

	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	got := map[sip.RequestMethod]bool{}
	// The ACK of the 487 may come before the BYE on a loaded machine: read
	// until both the BYE and the CANCEL were seen (bounded).
	for i := 0; i < 6 && !(got[sip.BYE] && got[sip.CANCEL]); i++ {
		req := p.request()
		got[req.Method] = true
		if req.Method == sip.ACK {
			continue
		}
		p.reply(req, 200, "", nil, "")
		if req.Method == sip.CANCEL {
			p.reply(inv, 487, "ring", nil, "")
		}
	}
	if !got[sip.BYE] || !got[sip.CANCEL] {
		t.Fatalf("Close sent %v", got)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close hangs")
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if app.rec.pending() != 0 || rec.pending() != 0 {
		t.Fatal("events after Close")
	}
}

// TestCloseUnderRequestFlood closes agents while OPTIONS keep arriving.
// A request read just before the UDP listener closes and handled just
// after used to get a socket sipgo opened itself, which nothing closed:
// one leaked socket and reader (readUDPConnection) in most rounds.
func TestCloseUnderRequestFlood(t *testing.T) {
	for round := range 5 {
		a := startAgent(t, Config{}, agentOpts{}) // closed here, mid-flood
		c, err := net.Dial("udp", a.UDPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		flooded := make(chan struct{})
		go func() {
			defer close(flooded)
			for n := range 5000 {
				select {
				case <-stop:
					return
				default:
				}
				msg := fmt.Sprintf("OPTIONS sip:x@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%d-%d\r\n"+
					"From: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: flood-%d-%d\r\n"+
					"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
					a.UDPAddr(), c.LocalAddr(), round, n, round, n)
				_, _ = c.Write([]byte(msg))
				time.Sleep(50 * time.Microsecond)
			}
		}()
		time.Sleep(50 * time.Millisecond)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		// What Close leaves in sipgo's UDP pool for late requests must be
		// of the type sipgo's createConnection asserts, or one of them
		// panics (it did once, with a stand-in of another type).
		for _, key := range append(a.udpSources.all(), a.UDPAddr().String()) {
			if got, ok := a.tpl.Pool("udp").Get(key).(*sip.UDPConnection); !ok || !got.Listener {
				t.Fatalf("Close left %T under %s in sipgo's UDP pool", a.tpl.Pool("udp").Get(key), key)
			}
		}
		close(stop)
		<-flooded
		c.Close()
	}
	// Readers of sockets sipgo opened end once those close; wait (bounded).
	var n int
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		if n = strings.Count(string(buf[:runtime.Stack(buf, true)]), "sip.(*TransportUDP).readUDPConnection("); n == 0 {
			return
		}
	}
	t.Fatalf("%d readers of sockets sipgo opened outlive Close", n)
}

func TestMalformedSDPInReinvite(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})
	p := newUDPPeer(t, a)
	d, _ := establish(t, p, app, sdpOffer(30000, "0"))
	d.req("INVITE", "v=0\r\nnot sdp at all\r\n")
	p.expect(400)
	d.ack(d.cseq, "")
	d.req("INVITE", sdpOffer(30000, "18"))
	p.expect(488)
	d.ack(d.cseq, "")
	// The dialog survives both.
	d.req("INVITE", sdpOffer(30000, "0", "a=sendonly"))
	if res := p.expect(200); !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("answer:\n%s", res.Body())
	}
}
