package interop

import (
	"net/netip"
	"strings"
	"testing"
)

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestSIPMessages(t *testing.T) {
	invite := "INVITE sip:service@127.0.0.1:25070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060\r\n" +
		"Content-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0 8 100\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:100 telephone-event/8000\r\n"
	pkts := []UDPPacket{
		{Dst: mustAddrPort("127.0.0.1:25070"), Payload: []byte(invite)},
		{Dst: mustAddrPort("127.0.0.1:5060"), Payload: []byte("SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n")},
		{Dst: mustAddrPort("127.0.0.1:5060"), Payload: []byte{0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{Dst: mustAddrPort("127.0.0.1:5060"), Payload: []byte("\r\n\r\n")}, // keep-alive
	}
	msgs := SIPMessages(pkts)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	if !msgs[0].IsRequest("INVITE") || msgs[1].IsRequest("INVITE") || msgs[1].StartLine() != "SIP/2.0 200 OK" {
		t.Errorf("messages: %q, %q", msgs[0].StartLine(), msgs[1].StartLine())
	}
	if pt, ok := SDPPayloadType(msgs[0].Body(), "telephone-event/8000"); !ok || pt != 100 {
		t.Errorf("telephone-event pt %d, %t; want 100", pt, ok)
	}
	if _, ok := SDPPayloadType(msgs[0].Body(), "opus/48000/2"); ok {
		t.Error("found opus")
	}
	if tr := SIPTrace(msgs); !strings.Contains(tr, "-> 127.0.0.1:25070\nINVITE") || !strings.Contains(tr, "SIP/2.0 200 OK") {
		t.Errorf("trace:\n%s", tr)
	}
}
