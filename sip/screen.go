package sip

import (
	"bytes"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Raw screening of received bytes, before sipgo parses them.
//
// sipgo drops a UDP datagram it cannot parse (and closes a TCP connection),
// so a peer gets no answer at all for a bad request line or a wrong
// Content-Length. The listeners we hand to sipgo (listen.go) run
// screenMessage on every message first; what it rejects is answered here,
// statelessly, and never reaches sipgo. Header-level errors are left to
// sipgo's parser, made lenient by lenientHeaderParsers so that the request
// reaches validateRequest, which answers 400.

// maxMessageSize bounds one SIP message (sipgo's own limit).
const maxMessageSize = 65535

var crlfcrlf = []byte("\r\n\r\n")

// screenMessage checks the start line and, for datagrams, the
// Content-Length of one raw message. It returns 0 when the message may go
// on to sipgo, else the status of a stateless answer. Responses always pass.
func screenMessage(msg []byte, datagram bool) (int, string) {
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	if bytes.HasPrefix(line, []byte("SIP/")) {
		return 0, ""
	}
	if code, reason := screenRequestLine(string(line)); code != 0 {
		return code, reason
	}
	// Answered here rather than by sipgo, whose answers to a request it
	// cannot make a transaction of have no Via to be routed by (found by
	// FuzzAgent). statelessReply drops it unanswered.
	if !hasVia(msg) {
		return 400, "Bad Request (no Via)"
	}
	if !datagram {
		return 0, ""
	}
	hdrEnd := bytes.Index(msg, crlfcrlf)
	if hdrEnd < 0 {
		return 400, "Bad Request (no end of headers)"
	}
	count, cl, ok := scanContentLength(msg[:hdrEnd])
	switch {
	case count > 1:
		return 400, "Bad Request (multiple Content-Length)"
	case !ok:
		return 400, "Bad Request (bad Content-Length)"
	case count == 1 && cl > len(msg)-hdrEnd-4:
		// RFC 3261 §18.3: a datagram shorter than its Content-Length.
		return 400, "Bad Request (Content-Length exceeds body)"
	}
	return 0, ""
}

// screenRequestLine checks "Method SP Request-URI SP SIP-Version" strictly
// (RFC 3261 §7.1: single spaces, no other white space), and answers a
// version other than SIP/2.0 with 505 here rather than leaving it to
// validateRequest: sipgo copies the request's version into its own answers
// ("SIP/0.0 400", found by FuzzAgent).
func screenRequestLine(line string) (int, string) {
	parts := strings.Split(line, " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || !isToken(parts[0]) {
		return 400, "Bad Request (malformed Request-Line)"
	}
	if !validVersion(parts[2]) {
		return 400, "Bad Request (malformed SIP-Version)"
	}
	var u sip.Uri
	if err := sip.ParseUri(parts[1], &u); err != nil {
		if schemeLike(parts[1]) {
			return 416, "Unsupported URI Scheme"
		}
		return 400, "Bad Request (malformed Request-URI)"
	}
	if !strings.EqualFold(parts[2], "SIP/2.0") {
		return 505, "Version Not Supported"
	}
	return 0, ""
}

// validVersion accepts "SIP/<digits>.<digits>"; versions other than 2.0 are
// then answered 505 (screenRequestLine).
func validVersion(v string) bool {
	if len(v) < 4 || !strings.EqualFold(v[:4], "SIP/") {
		return false
	}
	rest := v[4:]
	maj, min, ok := strings.Cut(rest, ".")
	return ok && allDigits(maj) && allDigits(min)
}

func allDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// schemeLike reports whether u starts with a URI scheme (RFC 3986:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":").
func schemeLike(u string) bool {
	i := strings.IndexByte(u, ':')
	if i < 1 {
		return false
	}
	for j := 0; j < i; j++ {
		c := u[j]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if j == 0 && !alpha || !alpha && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 3261 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if strings.IndexByte("-.!%*_+`'~", c) < 0 {
			return false
		}
	}
	return s != ""
}

// hasVia reports whether msg's header block has a Via header field.
func hasVia(msg []byte) bool {
	hdr := msg
	if i := bytes.Index(msg, crlfcrlf); i >= 0 {
		hdr = msg[:i]
	}
	found := false
	headerLines(hdr, func(name, _ string) { found = found || name == "via" || name == "v" })
	return found
}

// headerLines calls f for each header line of a header block (the start
// line excluded), with folded continuation lines joined.
func headerLines(hdr []byte, f func(name, value string)) {
	_, rest, _ := bytes.Cut(hdr, []byte("\r\n"))
	var name, value string
	flush := func() {
		if name != "" {
			f(name, strings.TrimSpace(value))
		}
		name, value = "", ""
	}
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			value += " " + strings.TrimSpace(string(line))
			continue
		}
		flush()
		n, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name, value = strings.ToLower(strings.TrimSpace(string(n))), string(v)
	}
	flush()
}

// scanContentLength returns how many Content-Length headers the block has,
// the value of the last one and whether every value is a valid number.
func scanContentLength(hdr []byte) (count, cl int, ok bool) {
	ok = true
	headerLines(hdr, func(name, value string) {
		if name != "content-length" && name != "l" {
			return
		}
		count++
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > maxMessageSize || !allDigits(value) {
			ok = false
			return
		}
		cl = n
	})
	return count, cl, ok
}

// statelessReply builds a response to a raw request that never reaches
// sipgo, from its Via, From, To, Call-ID and CSeq lines (RFC 3261 §8.2.6).
// It returns nil when the request has no Via: there is nowhere to answer.
func statelessReply(msg []byte, code int, reason string) []byte {
	hdr := msg
	if i := bytes.Index(msg, crlfcrlf); i >= 0 {
		hdr = msg[:i]
	}
	var vias []string
	var from, to, callID, cseq string
	headerLines(hdr, func(name, value string) {
		switch name {
		case "via", "v":
			vias = append(vias, value)
		case "from", "f":
			from = first(from, value)
		case "to", "t":
			to = first(to, value)
		case "call-id", "i":
			callID = first(callID, value)
		case "cseq":
			cseq = first(cseq, value)
		}
	})
	if len(vias) == 0 || slices.IndexFunc(vias, hasCTL) >= 0 {
		return nil // nowhere to answer, or a Via we cannot echo intact
	}
	// A value with a bare CR or another control character would make the
	// answer itself unparsable (found by FuzzAgent): leave it out.
	for _, v := range []*string{&from, &to, &callID, &cseq} {
		if hasCTL(*v) {
			*v = ""
		}
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 ")
	b.WriteString(strconv.Itoa(code))
	b.WriteByte(' ')
	b.WriteString(reason)
	b.WriteString("\r\n")
	for _, v := range vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	if from != "" {
		b.WriteString("From: " + from + "\r\n")
	}
	if to != "" {
		if !strings.Contains(strings.ToLower(to), "tag=") {
			to += ";tag=" + sip.GenerateTagN(10)
		}
		b.WriteString("To: " + to + "\r\n")
	}
	if callID != "" {
		b.WriteString("Call-ID: " + callID + "\r\n")
	}
	if cseq != "" {
		b.WriteString("CSeq: " + cseq + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// hasCTL reports whether v has a control character other than HTAB
// (RFC 3261 §25.1: none may appear in a header value once folding is
// undone).
func hasCTL(v string) bool {
	return strings.IndexFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) >= 0
}

func first(have, v string) string {
	if have != "" {
		return have
	}
	return v
}

// lenientHeaderParsers wraps sipgo's header parsers so that a malformed
// value of a known header (a CSeq number out of range, a To with unbalanced
// quotes) becomes a generic header instead of failing the whole message.
// validateRequest then answers 400; a missing typed Via or CSeq makes
// sipgo's transaction layer answer 400 itself.
func lenientHeaderParsers() sip.HeadersParser {
	base := sip.DefaultHeadersParser()
	out := make(sip.HeadersParser, len(base))
	for name, p := range base {
		canon := canonicalHeader(name)
		out[name] = func(hn []byte, text string) (sip.Header, error) {
			h, err := p(hn, text)
			if err == nil || err.Error() == "comma detected" {
				return h, err
			}
			return sip.NewHeader(canon, text), nil
		}
	}
	return out
}

func canonicalHeader(lower string) string {
	switch lower {
	case "c", "content-type":
		return "Content-Type"
	case "f", "from":
		return "From"
	case "t", "to":
		return "To"
	case "m", "contact":
		return "Contact"
	case "i", "call-id":
		return "Call-ID"
	case "cseq":
		return "CSeq"
	case "v", "via":
		return "Via"
	case "max-forwards":
		return "Max-Forwards"
	case "l", "content-length":
		return "Content-Length"
	case "route":
		return "Route"
	case "record-route":
		return "Record-Route"
	case "refer-to", "r":
		return "Refer-To"
	case "referred-by", "b":
		return "Referred-By"
	}
	return lower
}

// preprocess runs on every parsed message before the transaction layer,
// synchronously on the read loop (so before anything else shares it):
//
//   - UDP requests get an empty rport parameter, so that responses go to
//     the source address and port of the request (RFC 3581 behaviour
//     whether or not the peer asked for it: phones behind NAT need it);
//   - RFC 2543 requests, with neither an RFC 3261 branch nor a From tag,
//     get a branch derived from Call-ID, CSeq number, From and Via, so that
//     sipgo can match their retransmissions, ACK and CANCEL.
func (a *Agent) preprocess(m sip.Message) {
	req, ok := m.(*sip.Request)
	if !ok {
		return
	}
	via := req.Via()
	if via == nil {
		return
	}
	if req.Transport() == "UDP" {
		a.udpSources.add(req.Source())
		if !via.Params.Has("rport") {
			via.Params.Add("rport", "")
		}
	}
	// RFC 3261 §18.2.1: received when the sent-by host is not the source.
	// Besides being in the response, it is where sipgo opens a new
	// connection when a TCP or TLS request's own connection closed before
	// the response (§18.2.2): the source, never a sent-by host the peer
	// chose (a black hole, or a third party to connect to). A received
	// the peer put there itself is replaced.
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		src := ap.Addr().Unmap()
		if h, err := netip.ParseAddr(strings.Trim(via.Host, "[]")); err != nil || h.Unmap() != src || via.Params.Has("received") {
			via.Params.Add("received", src.String())
		}
	}
	branch, _ := via.Params.Get("branch")
	if strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) && len(branch) > len(sip.RFC3261BranchMagicCookie) {
		return
	}
	if from := req.From(); from != nil && from.Params.Has("tag") {
		return
	}
	h := fnv.New64a()
	if cid := req.CallID(); cid != nil {
		h.Write([]byte(cid.Value()))
	}
	if cs := req.CSeq(); cs != nil {
		h.Write([]byte(strconv.FormatUint(uint64(cs.SeqNo), 10)))
	}
	if from := req.From(); from != nil {
		h.Write([]byte(from.Address.String()))
	}
	h.Write([]byte(via.SentBy()))
	via.Params.Add("branch", sip.RFC3261BranchMagicCookie+"-2543-"+strconv.FormatUint(h.Sum64(), 36))
}
