package sip

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestSipgoInterop calls the agent from a plain sipgo UA and the other way
// round, with sipgo's own dialog code.
func TestSipgoInterop(t *testing.T) {
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{})

	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("peer"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	laddr := conn.LocalAddr().(*net.UDPAddr)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientConnectionAddr(laddr.String()))
	if err != nil {
		t.Fatal(err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "peer", Host: "127.0.0.1", Port: laddr.Port}}
	dsc := sipgo.NewDialogServerCache(cli, contact)
	byes := make(chan struct{}, 1)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		d, err := dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		_ = d.Respond(180, "Ringing", nil)
		_ = d.RespondSDP([]byte(sdpOffer(37000, "8")))
	})
	acks := make(chan struct{}, 1)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		// sipgo handles each request on its own goroutine: our BYE may be
		// handled before our ACK, which then finds no dialog.
		_ = dsc.ReadAck(req, tx)
		select {
		case acks <- struct{}{}:
		default:
		}
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := dsc.ReadBye(req, tx); err == nil {
			byes <- struct{}{}
		}
	})
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		// Stop reading first: a message arriving after ua.Close would make
		// sipgo open (and leak) a new socket to answer it.
		_ = conn.Close()
		<-served
		_ = ua.Close()
	})
	// The client sends from the server's socket once sipgo has pooled it.
	waitFor(t, "sipgo serving", func() bool { return ua.TransportLayer().Pool("udp").Size() > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	// sipgo calls us, with its plain client: its dialog helpers would send
	// the ACK from a new socket, which sipgo leaks on Close.
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: int(a.UDPAddr().Port())})
	inv.AppendHeader(&contact)
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte(sdpOffer(36000, "0 101", "a=rtpmap:101 telephone-event/8000")))
	tx, err := cli.TransactionRequest(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	var ok200 *sip.Response
	for ok200 == nil {
		select {
		case res := <-tx.Responses():
			if res.StatusCode >= 200 {
				ok200 = res
			}
		case <-tx.Done():
			t.Fatalf("INVITE: %v", tx.Err())
		}
	}
	tx.Terminate()
	if ok200.StatusCode != 200 || !hasLine(ok200.Body(), "m=audio 40000 RTP/AVP 0 101") {
		t.Fatalf("answer %d:\n%s", ok200.StatusCode, ok200.Body())
	}
	inDialog := func(m sip.RequestMethod, seq uint32) *sip.Request {
		r := sip.NewRequest(m, ok200.Contact().Address)
		r.AppendHeader(sip.HeaderClone(inv.From()))
		r.AppendHeader(sip.HeaderClone(ok200.To()))
		r.AppendHeader(sip.HeaderClone(inv.CallID()))
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
		return r
	}
	if err := cli.WriteRequest(inDialog(sip.ACK, inv.CSeq().SeqNo)); err != nil {
		t.Fatal(err)
	}
	app.call(t)
	app.rec.expect("ack")
	if res, err := cli.Do(ctx, inDialog(sip.BYE, inv.CSeq().SeqNo+1)); err != nil || res.StatusCode != 200 {
		t.Fatalf("BYE: %v %v", res, err)
	}
	if e := app.rec.expect("end"); e.reason.Cause != EndBye {
		t.Fatalf("end %+v", e.reason)
	}

	// We call sipgo.
	rec := newRecorder(t)
	oc := invite(t, a, "sip:peer@"+laddr.String(), rec)
	// sipgo's transaction layer handles each response on its own goroutine:
	// a 180 sent right before the 200 may come second and be dropped.
	e := rec.next()
	if e.kind == "progress" {
		if e.code != 180 {
			t.Fatalf("progress %+v", e)
		}
		e = rec.next()
	}
	if e.kind != "answer" || e.media.RTP.Port() != 37000 || e.media.Codec != PCMA {
		t.Fatalf("answer %+v", e.media)
	}
	if err := oc.Hangup(); err != nil {
		t.Fatal(err)
	}
	// Wait until sipgo handled our ACK and BYE: sipgo opens (and leaks) a
	// new socket for a request it handles after its UA closed.
	for _, ch := range []chan struct{}{acks, byes} {
		select {
		case <-ch:
		case <-time.After(waitTimeout):
			t.Fatal("sipgo did not get our ACK and BYE")
		}
	}
}
