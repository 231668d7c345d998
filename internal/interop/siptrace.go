package interop

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SIPMessage is a SIP message found in a capture.
type SIPMessage struct {
	// Time is when it was captured.
	Time time.Time
	// Src and Dst are the addresses it went between.
	Src, Dst netip.AddrPort
	// Text is the whole message.
	Text string
}

// StartLine returns the first line, e.g. "INVITE sip:bob@127.0.0.1 SIP/2.0"
// or "SIP/2.0 200 OK".
func (m SIPMessage) StartLine() string {
	line, _, _ := strings.Cut(m.Text, "\n")
	return strings.TrimRight(line, "\r")
}

// IsRequest reports whether m is a request of method (e.g. "INVITE").
func (m SIPMessage) IsRequest(method string) bool {
	return strings.HasPrefix(m.Text, method+" ")
}

// Body returns the message body: what follows the first empty line.
func (m SIPMessage) Body() string {
	if _, body, ok := strings.Cut(m.Text, "\r\n\r\n"); ok {
		return body
	}
	_, body, _ := strings.Cut(m.Text, "\n\n")
	return body
}

// sipStart matches the start of a SIP request or response.
var sipStart = regexp.MustCompile(`^(SIP/2\.0 \d{3} |[A-Z]+ sips?:\S+ SIP/2\.0\r?\n)`)

// SIPMessages returns the UDP datagrams of pkts that hold a SIP message.
func SIPMessages(pkts []UDPPacket) []SIPMessage {
	var out []SIPMessage
	for _, p := range pkts {
		if len(p.Payload) < 12 || !sipStart.Match(p.Payload) {
			continue
		}
		out = append(out, SIPMessage{Time: p.Time, Src: p.Src, Dst: p.Dst, Text: string(p.Payload)})
	}
	return out
}

// SIPTrace formats msgs for a test log or a bug report: each message with
// its time (relative to the first), source and destination.
func SIPTrace(msgs []SIPMessage) string {
	if len(msgs) == 0 {
		return "(no SIP messages)\n"
	}
	var b strings.Builder
	t0 := msgs[0].Time
	for _, m := range msgs {
		fmt.Fprintf(&b, "--- %7.3fs %s -> %s\n%s\n", m.Time.Sub(t0).Seconds(), m.Src, m.Dst,
			strings.TrimRight(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n"))
	}
	return b.String()
}

// SDPPayloadType returns the payload type that the SDP body maps to
// encoding (an rtpmap encoding name such as "telephone-event/8000"), and
// whether there is one.
func SDPPayloadType(body, encoding string) (uint8, bool) {
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "a=rtpmap:")
		if !ok {
			continue
		}
		pt, enc, ok := strings.Cut(rest, " ")
		if !ok || !strings.EqualFold(strings.TrimSpace(enc), encoding) {
			continue
		}
		if n, err := strconv.ParseUint(pt, 10, 7); err == nil {
			return uint8(n), true
		}
	}
	return 0, false
}
