package sip

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// dialogSeed is an in-dialog request with placeholders that FuzzInDialog
// fills in from the call: $TARGET (the agent's Contact), $PEER, $AGENT,
// $CALLID, $FROMTAG, $TOTAG, $CSEQ (the next CSeq), $BRANCH (a fresh one)
// and $LEN (the body's length).
func dialogSeed(method, extra, body string) string {
	return method + " $TARGET SIP/2.0\r\nVia: SIP/2.0/UDP $PEER;branch=z9hG4bK$BRANCH\r\nMax-Forwards: 70\r\n" +
		"From: \"Alice\" <sip:alice@$PEER>;tag=$FROMTAG\r\nTo: <sip:bob@$AGENT>;tag=$TOTAG\r\nCall-ID: $CALLID\r\n" +
		"CSeq: $CSEQ " + method + "\r\nContact: <sip:alice@$PEER>\r\n" + extra + "Content-Length: $LEN\r\n\r\n" + body
}

// FuzzInDialog sends one fuzzed request inside an answered call (the
// input, with the call's Call-ID, tags, CSeq and addresses filled in), so
// that mutations reach the dialog's own handling: re-INVITE and UPDATE
// offers, holds, session timers, INFO digits, BYE, CANCEL, REFER, PRACK,
// ACK. Invariants: nothing panics; afterwards the call can still be ended
// (Hangup succeeds, or the call had ended and its handler heard OnEnd);
// and the agent keeps no dialog once it has.
func FuzzInDialog(f *testing.F) {
	sdp := sdpOffer(30002, "0 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15")
	ct := "Content-Type: application/sdp\r\n"
	for _, s := range []string{
		dialogSeed("INVITE", ct, sdp),
		dialogSeed("INVITE", ct, strings.Replace(sdp, "t=0 0\r\n", "t=0 0\r\na=sendonly\r\n", 1)),
		dialogSeed("INVITE", ct, strings.Replace(sdp, "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1)),
		dialogSeed("INVITE", "", ""),
		dialogSeed("INVITE", "Supported: timer\r\nSession-Expires: 90;refresher=uas\r\n"+ct, sdp),
		dialogSeed("INVITE", ct, "v=0\r\nm=video 5 RTP/AVP 31\r\n"),
		dialogSeed("UPDATE", ct, sdp),
		dialogSeed("UPDATE", "Session-Expires: 1800\r\n", ""),
		dialogSeed("INFO", "Content-Type: application/dtmf-relay\r\n", "Signal=5\r\nDuration=160\r\n"),
		dialogSeed("INFO", "Content-Type: application/dtmf\r\n", "11"),
		dialogSeed("BYE", "", ""),
		dialogSeed("OPTIONS", "", ""),
		dialogSeed("REFER", "Refer-To: <sip:carol@127.0.0.1>\r\n", ""),
		dialogSeed("MESSAGE", "Content-Type: text/plain\r\n", "hello"),
		dialogSeed("PRACK", "RAck: 1 1 INVITE\r\n", ""),
		dialogSeed("NOTIFY", "Event: refer\r\nContent-Type: message/sipfrag\r\n", "SIP/2.0 200 OK\r\n"),
		strings.Replace(dialogSeed("ACK", ct, sdp), "$CSEQ ACK", "1 ACK", 1),
		strings.Replace(dialogSeed("CANCEL", "", ""), "$CSEQ CANCEL", "1 CANCEL", 1),
	} {
		f.Add([]byte(s))
	}

	// One agent per fuzzing process; a call per input. Its T1 is short, so
	// that a BYE sent to a Contact the input redirected gives up soon.
	var handler atomic.Pointer[inboundApp]
	a := startAgent(f, Config{Logger: slog.New(slog.DiscardHandler),
		OnInvite: func(c *InboundCall) DialogHandler { return handler.Load().OnInvite(c) }},
		agentOpts{t1: 10 * time.Millisecond, t2: 40 * time.Millisecond})

	// Two peers for the whole process, the caller and the prober: a new
	// socket per input could get the port of an earlier one, and with it
	// that call's late BYEs. Stale messages are told apart by Call-ID.
	p, ping := fuzzPeer(f, a), fuzzPeer(f, a)

	f.Fuzz(func(t *testing.T, data []byte) {
		p.t, ping.t = t, t
		d := p.newDialog()
		app := newInboundApp(t)
		answerAll(app)
		answer := app.onInvite
		var answered atomic.Bool
		app.onInvite = func(c *InboundCall) DialogHandler {
			// Only this input's own call: not a second one the input opens,
			// nor one an earlier input opened whose INVITE sipgo hands over
			// only now (OnInvite runs on a goroutine of its own).
			if c.CallID() != d.callID || answered.Swap(true) {
				_ = c.Reject(404, "")
				return nil
			}
			return answer(c)
		}
		handler.Store(app)
		call := establishAmid(t, d, app)

		// Answer whatever the agent sends meanwhile: 200 to its BYE (and
		// to anything else it asks), nothing to responses.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case m := <-p.msgs:
					answerStray(p, m)
				}
			}
		})
		defer func() { close(stop); wg.Wait() }()

		msg := strings.NewReplacer(
			"$TARGET", d.target(), "$PEER", p.host, "$AGENT", p.agentHost(), "$CALLID", d.callID,
			"$FROMTAG", d.fromTag, "$TOTAG", d.toTag, "$CSEQ", strconv.Itoa(d.cseq+1),
			"$BRANCH", sip.GenerateTagN(10),
		).Replace(string(data))
		if _, body, ok := strings.Cut(msg, "\r\n\r\n"); ok {
			msg = strings.Replace(msg, "$LEN", strconv.Itoa(len(body)), 1)
		}
		if len(msg) > 0 && len(msg) <= 65507 {
			if _, err := p.udp.WriteTo([]byte(msg), p.remote); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		// Let the agent handle it: an OPTIONS outside the dialog, from
		// another socket, is answered after it (the agent reads in order).
		pingAgent(t, ping)

		switch err := call.Hangup(); {
		case errors.Is(err, ErrCallEnded):
			// The input ended it: OnEnd must come (after any OnMedia or
			// OnDTMF the input caused; next fails after waitTimeout).
			for app.rec.next().kind != "end" {
			}
		case err != nil:
			t.Fatalf("Hangup: %v", err)
		}
		for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
			a.mu.Lock()
			n := len(a.dialogs)
			a.mu.Unlock()
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d dialogs left after the call ended; input:\n%s", n, msg)
			}
		}
	})
}

// establishAmid is establish on a peer that earlier inputs used: it answers
// stray requests (an earlier call's BYE still retransmitted) and skips
// responses of other calls.
func establishAmid(t *testing.T, d *dialog, app *inboundApp) *InboundCall {
	t.Helper()
	p := d.p
	d.invite(sdpOffer(30000, "0 101", "a=rtpmap:101 telephone-event/8000"))
	for {
		switch m := p.next().(type) {
		case *sip.Request:
			answerStray(p, m)
			continue
		case *sip.Response:
			if m.CallID() == nil || m.CallID().Value() != d.callID || m.StatusCode < 200 {
				continue
			}
			if m.StatusCode != 200 {
				t.Fatalf("INVITE got %d", m.StatusCode)
			}
			d.established(m)
		}
		break
	}
	c := app.call(t)
	d.ack(1, "")
	app.rec.expect("ack")
	return c
}
