package mediaserver_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// rawSIP sends one SIP request over UDP and returns the status codes of the
// responses it gets until a final one.
func rawSIP(t *testing.T, srv *mediaserver.Server, msg string) []int {
	t.Helper()
	codes, _ := rawSIPFinal(t, srv, msg)
	return codes
}

// rawSIPFinal is rawSIP that also returns the final response as text.
func rawSIPFinal(t *testing.T, srv *mediaserver.Server, msg string) ([]int, string) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	msg = strings.ReplaceAll(msg, "PORT", strconv.Itoa(port))
	msg = strings.ReplaceAll(msg, "SERVER", srv.SIPAddr().String())
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	if i := strings.Index(msg, "\r\n\r\n"); i >= 0 {
		body := msg[i+4:]
		msg = strings.Replace(msg, "Content-Length: LEN", "Content-Length: "+strconv.Itoa(len(body)), 1)
	}
	if _, err := c.WriteToUDPAddrPort([]byte(msg), srv.SIPAddr()); err != nil {
		t.Fatal(err)
	}
	var codes []int
	buf := make([]byte, 65536)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "SIP/2.0" {
			continue
		}
		code, _ := strconv.Atoi(f[1])
		codes = append(codes, code)
		if code >= 200 {
			if strings.Contains(msg, "INVITE sip") {
				ack := ackFor(msg, string(buf[:n]))
				_, _ = c.WriteToUDPAddrPort([]byte(ack), srv.SIPAddr())
			}
			return codes, string(buf[:n])
		}
	}
	return codes, ""
}

// ackFor builds the ACK for a non-2xx final response to an INVITE.
func ackFor(invite, resp string) string {
	hdr := func(msg, name string) string {
		for _, l := range strings.Split(msg, "\r\n") {
			if strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":") {
				return l
			}
		}
		return ""
	}
	uri := strings.Fields(invite)[1]
	cseq := strings.Fields(hdr(invite, "CSeq"))[1]
	return "ACK " + uri + " SIP/2.0\r\n" + hdr(invite, "Via") + "\r\n" + hdr(invite, "From") + "\r\n" +
		hdr(resp, "To") + "\r\n" + hdr(invite, "Call-ID") + "\r\nCSeq: " + cseq + " ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

func inviteWith(sdp string) string {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	return `INVITE sip:test@SERVER SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK` + id + `
From: <sip:raw@127.0.0.1:PORT>;tag=` + id + `
To: <sip:test@SERVER>
Call-ID: ` + id + `@raw
CSeq: 1 INVITE
Contact: <sip:raw@127.0.0.1:PORT>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: LEN

` + sdp
}

// checkStillServes proves the server still takes a normal call.
func checkStillServes(ctx context.Context, t *testing.T, srv *mediaserver.Server, b *mediaservertest.Phone) {
	t.Helper()
	a := newPhone(t, "alice2", 440)
	ca, err := a.Dial(ctx, serverURI(srv, "again"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatalf("the next call fails: %v", err)
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("the next call has no audio: %v", err)
	}
	_ = ca.Hangup(ctx)
}

func TestBadInput(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	b := newPhone(t, "bob", 1000)
	h := callTo(b.URI())
	srv := startServer(t, h)

	t.Run("garbage datagram", func(t *testing.T) {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.SIPAddr()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, g := range []string{"\x00\x01\x02garbage", "INVITE", "SIP/2.0 200 OK\r\n\r\n", strings.Repeat("A", 1400)} {
			if _, err := c.Write([]byte(g)); err != nil {
				t.Fatal(err)
			}
		}
		checkStillServes(ctx, t, srv, b)
	})
	t.Run("broken sdp", func(t *testing.T) {
		codes := rawSIP(t, srv, inviteWith("this is not sdp\n"))
		if len(codes) == 0 || (codes[len(codes)-1] != 400 && codes[len(codes)-1] != 488) {
			t.Fatalf("broken SDP got %v, want 400 or 488", codes)
		}
		checkStillServes(ctx, t, srv, b)
	})
	t.Run("no common codec", func(t *testing.T) {
		codes := rawSIP(t, srv, inviteWith("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 30000 RTP/AVP 18\na=rtpmap:18 G729/8000\n"))
		if len(codes) == 0 || codes[len(codes)-1] != 488 {
			t.Fatalf("G.729-only offer got %v, want 488", codes)
		}
		checkStillServes(ctx, t, srv, b)
	})
}

// TestHandlerFailures: a Handler that panics or blocks past its deadline
// gets the fallback (the caller is rejected with 480), is logged, and the
// server serves the next call.
func TestHandlerFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(ctx context.Context) (mediaserver.Action, error)
	}{
		{"panic", func(context.Context) (mediaserver.Action, error) { panic("handler bug") }},
		{"blocks", func(ctx context.Context) (mediaserver.Action, error) {
			<-ctx.Done()
			return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
		}},
		{"error", func(context.Context) (mediaserver.Action, error) {
			return mediaserver.Action{}, fmt.Errorf("database down")
		}},
		{"unknown action", func(context.Context) (mediaserver.Action, error) {
			return mediaserver.Action{Action: "teleport"}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			b := newPhone(t, "bob", 1000)
			good := callTo(b.URI())
			var calls atomic.Int32
			h := newRecorder()
			h.CallEventFunc = good.CallEventFunc
			h.NewCallFunc = func(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
				if calls.Add(1) == 1 {
					return tc.fn(ctx)
				}
				return good.NewCallFunc(ctx, req)
			}
			srv := startServer(t, h, func(c *mediaserver.Config) { c.DecisionTimeout = time.Second })
			a := newPhone(t, "alice", 440)
			_, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
			var se *mediaservertest.StatusError
			if !errorsAs(err, &se) || se.Code != 480 {
				t.Fatalf("first call: %v, want rejected with 480", err)
			}
			checkStillServes(ctx, t, srv, b)
		})
	}
}

// TestRTPBleed: packets injected from another address into a call's RTP
// port are dropped and counted, and never reach the other party.
func TestRTPBleed(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	var aID string
	h := callTo(b.URI())
	inner := h.NewCallFunc
	h.NewCallFunc = func(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		aID = req.ParticipantID
		return inner(ctx, req)
	}
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "forward"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatal(err)
	}
	// The server's RTP port for A's leg, from the SDP answer A got.
	port := sdpPort(t, ca.RemoteSDP())
	rogue, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	since := time.Now()
	pkt := make([]byte, 12+160)
	pkt[0], pkt[1] = 0x80, 0 // RTP v2, PCMU
	const n = 50
	for i := range n { // paced like a real stream, so it overlaps A's audio
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		ts := uint32(i * 160)
		pkt[4], pkt[5], pkt[6], pkt[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		pkt[8], pkt[11] = 0xBE, 0xEF
		for j := range 160 { // a loud 2500 Hz tone, µ-law
			pkt[12+j] = ulaw(int16(16000 * math.Sin(2*math.Pi*2500*float64(i*160+j)/8000)))
		}
		if _, err := rogue.Write(pkt); err != nil {
			t.Fatal(err)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	p, ok := srv.Participant(aID)
	if !ok {
		t.Fatal("participant A not found")
	}
	for p.MediaStats().Foreign < n {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("foreign packets counted %d, want %d: %+v", p.MediaStats().Foreign, n, p.MediaStats())
		}
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatal(err)
	}
	heard := cb.HeardSince(since)
	if heard.Duration() < 800*time.Millisecond {
		t.Fatalf("B heard only %v during the injection", heard.Duration())
	}
	if s := heard.Share(2500); s > 0.01 {
		t.Errorf("B heard the injected 2500 Hz tone (share %.3f)", s)
	}
}

func sdpPort(t *testing.T, sdp string) int {
	t.Helper()
	for _, l := range strings.Split(sdp, "\n") {
		if strings.HasPrefix(l, "m=audio ") {
			p, err := strconv.Atoi(strings.Fields(l)[1])
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatalf("no m=audio in %q", sdp)
	return 0
}

// ulaw encodes one sample (G.711 µ-law), independent of package media.
func ulaw(s int16) byte {
	const bias, clip = 0x84, 32635
	sign := byte(0)
	v := int(s)
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0F
	return ^(sign | byte(exp<<4) | byte(mant))
}
