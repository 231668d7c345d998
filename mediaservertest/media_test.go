package mediaservertest

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// rawPeer is a plain UDP socket that stands in for the remote RTP endpoint.
func rawPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readPackets reads RTP packets from c until n arrived.
func readPackets(t *testing.T, c *net.UDPConn, n int) []rtp.Packet {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var out []rtp.Packet
	buf := make([]byte, 1600)
	for len(out) < n {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d packets: %v", len(out), err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:k]...)); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func newTestMedia(t *testing.T, cfg PhoneConfig) *media {
	t.Helper()
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMedia(&cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.close)
	return m
}

// TestRFC4733Packets checks the RFC 4733 sender on the wire: marker on the
// first packet of each event, one timestamp per event, growing durations,
// three end packets, and continuous sequence numbers and audio timestamps.
func TestRFC4733Packets(t *testing.T) {
	peer := rawPeer(t)
	m := newTestMedia(t, PhoneConfig{Ptime: 20 * time.Millisecond})
	if err := m.configure(peer.LocalAddr().(*net.UDPAddr).AddrPort(), PCMU, 0, 101, [2]int{101, 101}, nil); err != nil {
		t.Fatal(err)
	}
	m.setSending(true)
	items, err := m.queueDigits("5#", DTMFRFC4733)
	if err != nil {
		t.Fatal(err)
	}
	// 2 digits x (5 updates + 2 repeated ends + 5 gap packets), plus slack.
	pkts := readPackets(t, peer, 30)
	<-items[1].done

	type event struct {
		digit     uint8
		ts        uint32
		durations []uint16
		ends      int
		markers   int
	}
	var events []*event
	for i, p := range pkts {
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Errorf("packet %d: seq %d after %d", i, p.SequenceNumber, pkts[i-1].SequenceNumber)
		}
		if p.SSRC != pkts[0].SSRC {
			t.Errorf("packet %d: SSRC changed", i)
		}
		if p.PayloadType != 101 {
			if len(p.Payload) != 160 || p.PayloadType != 0 {
				t.Errorf("audio packet %d: pt %d, %d bytes", i, p.PayloadType, len(p.Payload))
			}
			continue
		}
		ev, err := parseTelephoneEvent(p.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 || events[len(events)-1].ts != p.Timestamp {
			events = append(events, &event{digit: ev.Event, ts: p.Timestamp})
		}
		e := events[len(events)-1]
		e.durations = append(e.durations, ev.Duration)
		if ev.End {
			e.ends++
		}
		if p.Marker {
			e.markers++
			if len(e.durations) != 1 {
				t.Errorf("event %d: marker on packet %d of the event", ev.Event, len(e.durations))
			}
		}
	}
	if len(events) != 2 || events[0].digit != 5 || events[1].digit != 11 {
		t.Fatalf("got %d events, want digit 5 then # (11)", len(events))
	}
	for _, e := range events {
		want := []uint16{160, 320, 480, 640, 800, 800, 800}
		if e.markers != 1 || e.ends != 3 || len(e.durations) != len(want) {
			t.Errorf("event %d: %d markers, %d end packets, durations %v", e.digit, e.markers, e.ends, e.durations)
			continue
		}
		for i := range want {
			if e.durations[i] != want[i] {
				t.Errorf("event %d: durations %v, want %v", e.digit, e.durations, want)
				break
			}
		}
	}
}

// TestSenderPtimeAndHold checks packet size for 30 ms PCMA and that nothing
// is sent while sending is off.
func TestSenderPtimeAndHold(t *testing.T) {
	peer := rawPeer(t)
	m := newTestMedia(t, PhoneConfig{Ptime: 30 * time.Millisecond, ToneHz: 1000})
	if err := m.configure(peer.LocalAddr().(*net.UDPAddr).AddrPort(), PCMA, 8, -1, [2]int{-1, -1}, nil); err != nil {
		t.Fatal(err)
	}
	m.setSending(true)
	pkts := readPackets(t, peer, 10)
	for i, p := range pkts {
		if p.PayloadType != 8 || len(p.Payload) != 240 {
			t.Fatalf("packet %d: pt %d, %d bytes; want PCMA, 240", i, p.PayloadType, len(p.Payload))
		}
		if i > 0 && p.Timestamp-pkts[i-1].Timestamp != 240 {
			t.Errorf("packet %d: timestamp step %d", i, p.Timestamp-pkts[i-1].Timestamp)
		}
	}
	if !pkts[0].Marker || pkts[1].Marker {
		t.Error("marker must be on the first packet only")
	}
	if _, err := m.queueDigits("1", DTMFRFC4733); err != ErrNoTelephoneEvent {
		t.Errorf("RFC 4733 without telephone-event: err = %v", err)
	}
	m.setSending(false)
	if _, err := m.queueDigits("1", DTMFInband); err != ErrNotSending {
		t.Errorf("digits while not sending: err = %v", err)
	}
}
