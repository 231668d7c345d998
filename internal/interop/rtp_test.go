package interop

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

func rtpBytes(t *testing.T, pt uint8, seq uint16, ssrc uint32, payload []byte) []byte {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, SSRC: ssrc}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRTPToDecodeAndEvents(t *testing.T) {
	tone := Tone(1000, 0.5, 100*time.Millisecond)
	var pkts []UDPPacket
	for i := 0; i+160 <= len(tone); i += 160 {
		enc := make([]byte, 160)
		for j, s := range tone[i : i+160] {
			enc[j] = g711.EncodeUlawFrame(s)
		}
		pkts = append(pkts, udp(7000, rtpBytes(t, 0, uint16(i/160), 1, enc)))
	}
	pkts = append(pkts,
		udp(7000, rtpBytes(t, 101, 9, 1, []byte{5, 0x8a, 0x01, 0x40})), // event 5, end, vol 10, 320
		udp(7000, []byte{0x81, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0}),     // RTCP SR
		udp(7000, []byte("INVITE sip:x SIP/2.0")),                      // not RTP
		udp(7001, rtpBytes(t, 0, 1, 2, make([]byte, 160))),             // another port
	)
	got := RTPTo(pkts, 7000)
	if len(got) != 6 {
		t.Fatalf("RTPTo: %d packets, want 6:\n%s", len(got), StreamSummary(got))
	}
	pcm := DecodePCMU(WithPT(got, 0))
	if len(pcm) != 800 || Share(pcm, 1000) < 0.95 {
		t.Errorf("decoded %s", Describe(pcm, 1000))
	}
	evs := TelephoneEvents(WithPT(got, 101))
	if len(evs) != 1 || evs[0].Event != 5 || !evs[0].End || evs[0].Volume != 10 || evs[0].Duration != 320 {
		t.Errorf("events %v", evs)
	}
}

func udp(dst uint16, payload []byte) UDPPacket {
	return UDPPacket{Src: mustAddrPort("127.0.0.1:9"), Dst: mustAddrPort("127.0.0.1:" + itoa(dst)), Payload: payload}
}
