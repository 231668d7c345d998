package sip

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// Limits on SDP we accept; larger bodies are ErrBadSDP.
const (
	maxSDPSize   = 16 << 10
	maxSDPMedia  = 16
	maxSDPFormat = 64
)

// sessionRank orders session-level lines as RFC 4566 §5 requires:
// v o s i u e p c b (t r)* z k a. t and r share a rank so that each r= stays
// after its t= in a stable sort.
func sessionRank(c byte) int {
	switch c {
	case 'v':
		return 0
	case 'o':
		return 1
	case 's':
		return 2
	case 'i':
		return 3
	case 'u':
		return 4
	case 'e':
		return 5
	case 'p':
		return 6
	case 'c':
		return 7
	case 'b':
		return 8
	case 't', 'r':
		return 9
	case 'z':
		return 10
	case 'k':
		return 11
	case 'a':
		return 12
	}
	return -1
}

// mediaRank orders media-level lines: m i c b k a.
func mediaRank(c byte) int {
	switch c {
	case 'm':
		return 0
	case 'i':
		return 1
	case 'c':
		return 2
	case 'b':
		return 3
	case 'k':
		return 4
	case 'a':
		return 5
	}
	return -1
}

// normalizeSDP rewrites an SDP body into the strict form pion/sdp parses
// (DESIGN.md decision 5): bare LF and a missing final CRLF are accepted,
// trailing white space is removed, empty lines are skipped, session-level
// lines are put into RFC 4566 order (session-only lines misplaced after an
// m= line are moved back), media-level lines are ordered within their media
// section, "s=-" and "t=0 0" are added when missing and lines of unknown
// type are dropped (RFC 4566 §5 allows ignoring them). It returns ErrBadSDP
// for what cannot be fixed: no v= line, a line that is not "<letter>=...",
// or a body over the size limits.
func normalizeSDP(body []byte) (string, error) {
	if len(body) == 0 || len(body) > maxSDPSize {
		return "", fmt.Errorf("%w: size %d", ErrBadSDP, len(body))
	}
	var sess []string
	var media [][]string
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) == 0 {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return "", fmt.Errorf("%w: bad line", ErrBadSDP)
		}
		typ := line[0]
		switch {
		case typ == 'm':
			if len(media) == maxSDPMedia {
				return "", fmt.Errorf("%w: too many m= lines", ErrBadSDP)
			}
			media = append(media, []string{string(line)})
		case len(media) > 0 && mediaRank(typ) >= 0:
			media[len(media)-1] = append(media[len(media)-1], string(line))
		case sessionRank(typ) >= 0:
			sess = append(sess, string(line))
		}
	}
	slices.SortStableFunc(sess, func(x, y string) int { return sessionRank(x[0]) - sessionRank(y[0]) })
	if len(sess) == 0 || sess[0][0] != 'v' {
		return "", fmt.Errorf("%w: no v= line", ErrBadSDP)
	}
	sess = ensureLine(sess, 's', "s=-")
	sess = ensureLine(sess, 't', "t=0 0")
	var b strings.Builder
	b.Grow(len(body) + 64)
	for _, l := range sess {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	for _, m := range media {
		slices.SortStableFunc(m, func(x, y string) int { return mediaRank(x[0]) - mediaRank(y[0]) })
		for _, l := range m {
			b.WriteString(l)
			b.WriteString("\r\n")
		}
	}
	return b.String(), nil
}

// ensureLine inserts line at its rank when no line of type typ exists.
func ensureLine(sess []string, typ byte, line string) []string {
	r := sessionRank(typ)
	i := 0
	for ; i < len(sess); i++ {
		if sess[i][0] == typ {
			return sess
		}
		if sessionRank(sess[i][0]) > r {
			break
		}
	}
	return slices.Insert(sess, i, line)
}

// sdpMedia is one m= section of a parsed SDP, reduced to what negotiation
// needs.
type sdpMedia struct {
	kind    string // "audio", "video", ...
	port    int
	proto   string
	formats []string
	rtpmap  map[string]rtpmapEntry // by payload type string
	fmtp    map[string]string
	ptime   time.Duration
	dir     Direction
	conn    netip.Addr // effective c= address; invalid when none
	rtcpMux bool
	rtcp    netip.AddrPort // a=rtcp, zero when absent
	crypto  []cryptoAttr   // usable a=crypto lines, in order; malformed ones are skipped
	nCrypto int            // a=crypto lines seen
}

type rtpmapEntry struct {
	name string // upper case
	rate uint32
}

// sessionDesc is a parsed SDP body.
type sessionDesc struct {
	origin sdp.Origin
	media  []sdpMedia
}

// parseSDP normalises and parses an SDP body. Every error wraps ErrBadSDP.
func parseSDP(body []byte) (*sessionDesc, error) {
	text, err := normalizeSDP(body)
	if err != nil {
		return nil, err
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	out := &sessionDesc{origin: sd.Origin}
	sessConn, err := connAddr(sd.ConnectionInformation)
	if err != nil {
		return nil, err
	}
	sessDir := SendRecv
	for _, a := range sd.Attributes {
		if d, ok := parseDirection(a.Key); ok {
			sessDir = d
		}
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("%w: no m= line", ErrBadSDP)
	}
	for _, md := range sd.MediaDescriptions {
		m, err := parseMedia(md, sessConn, sessDir)
		if err != nil {
			return nil, err
		}
		out.media = append(out.media, m)
	}
	return out, nil
}

func parseMedia(md *sdp.MediaDescription, sessConn netip.Addr, sessDir Direction) (sdpMedia, error) {
	m := sdpMedia{
		kind:    md.MediaName.Media,
		port:    md.MediaName.Port.Value,
		proto:   strings.Join(md.MediaName.Protos, "/"),
		formats: md.MediaName.Formats,
		dir:     sessDir,
		conn:    sessConn,
	}
	if m.port < 0 || m.port > 65535 || len(m.formats) > maxSDPFormat {
		return m, fmt.Errorf("%w: bad m= line", ErrBadSDP)
	}
	if md.ConnectionInformation != nil {
		c, err := connAddr(md.ConnectionInformation)
		if err != nil {
			return m, err
		}
		m.conn = c
	}
	for _, a := range md.Attributes {
		if d, ok := parseDirection(a.Key); ok {
			m.dir = d
			continue
		}
		switch a.Key {
		case "rtpmap":
			pt, rest, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			name, rate, _ := strings.Cut(strings.TrimSpace(rest), "/")
			rate, _, _ = strings.Cut(rate, "/")
			r, err := strconv.ParseUint(rate, 10, 32)
			if err != nil {
				continue
			}
			if m.rtpmap == nil {
				m.rtpmap = make(map[string]rtpmapEntry)
			}
			m.rtpmap[pt] = rtpmapEntry{name: strings.ToUpper(name), rate: uint32(r)}
		case "fmtp":
			pt, rest, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			if m.fmtp == nil {
				m.fmtp = make(map[string]string)
			}
			m.fmtp[pt] = strings.TrimSpace(rest)
		case "ptime":
			if ms, err := strconv.ParseFloat(strings.TrimSpace(a.Value), 64); err == nil && ms > 0 && ms < 10000 {
				m.ptime = time.Duration(ms * float64(time.Millisecond))
			}
		case "crypto":
			m.nCrypto++
			if m.nCrypto > maxCryptoAttrs {
				continue
			}
			if c, err := parseCrypto(a.Value); err == nil {
				m.crypto = append(m.crypto, c)
			}
		case "rtcp-mux":
			m.rtcpMux = true
		case "rtcp":
			m.rtcp = parseRTCPAttr(a.Value, m.conn)
		}
	}
	return m, nil
}

// parseRTCPAttr parses "a=rtcp:<port> [IN IP4 <addr>]" (RFC 3605).
func parseRTCPAttr(v string, conn netip.Addr) netip.AddrPort {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.AddrPort{}
	}
	p, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil {
		return netip.AddrPort{}
	}
	addr := conn
	if len(f) == 4 {
		if a, err := netip.ParseAddr(f[3]); err == nil {
			addr = a
		}
	}
	if !addr.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr, uint16(p))
}

// connAddr returns the unicast address of a c= line, the invalid Addr when
// there is none. Host names are not resolved: they are ErrBadSDP.
func connAddr(c *sdp.ConnectionInformation) (netip.Addr, error) {
	if c == nil || c.Address == nil {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(c.Address.Address)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: c= address", ErrBadSDP)
	}
	return a.Unmap(), nil
}

func parseDirection(key string) (Direction, bool) {
	switch key {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return SendRecv, false
}

// String returns the SDP attribute name of the direction.
func (d Direction) String() string {
	switch d {
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "sendrecv"
}
