package mediaservertest

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// Direction is an SDP media direction attribute (RFC 3264 section 5.1), seen
// from the side that writes it. The zero value is SendRecv.
type Direction int

// Directions.
const (
	SendRecv Direction = iota // sends and receives
	SendOnly                  // only sends: puts the other side on hold
	RecvOnly                  // only receives
	Inactive                  // neither
)

// String returns the SDP attribute name.
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

func (d Direction) sends() bool { return d == SendRecv || d == SendOnly }
func (d Direction) recvs() bool { return d == SendRecv || d == RecvOnly }

func directionOf(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

// answerDirection is the direction to answer an offer of dir with, when this
// side would like want (RFC 3264 section 6.1).
func answerDirection(offer, want Direction) Direction {
	return directionOf(want.sends() && offer.recvs(), want.recvs() && offer.sends())
}

// sdpFormat is one payload format of an m= line.
type sdpFormat struct {
	pt   uint8
	name string // "PCMU", "PCMA" or "telephone-event"
}

// remoteMedia is what a remote SDP says about its first audio stream.
type remoteMedia struct {
	addr    netip.AddrPort // RTP address; unspecified address or port 0 means no sending
	formats []sdpFormat    // the m= line's formats we understand, in order
	dir     Direction
	ptime   time.Duration
	proto   string      // the m= line's transport protocol, e.g. "RTP/AVP" or "RTP/SAVP"
	crypto  []sdpCrypto // the a=crypto lines we can use, in order (RFC 4568)
}

// hasAddr reports whether the remote SDP gives an address to send to.
func (r *remoteMedia) hasAddr() bool {
	return r.addr.IsValid() && !r.addr.Addr().IsUnspecified() && r.addr.Port() != 0
}

// telephoneEventPT returns the remote's telephone-event payload type or -1.
func (r *remoteMedia) telephoneEventPT() int {
	for _, f := range r.formats {
		if f.name == "telephone-event" {
			return int(f.pt)
		}
	}
	return -1
}

// find returns the remote's payload type for codec c.
func (r *remoteMedia) find(c Codec) (uint8, bool) {
	for _, f := range r.formats {
		if f.name == string(c) {
			return f.pt, true
		}
	}
	return 0, false
}

// parseSDP parses body and extracts its first audio stream. It accepts bare
// LF line ends and a missing final line end.
func parseSDP(body []byte) (*remoteMedia, error) {
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	text = strings.TrimRight(text, "\n")
	text = strings.ReplaceAll(text, "\n", "\r\n") + "\r\n"
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		return parseAudio(&sd, md)
	}
	return nil, fmt.Errorf("%w: no active audio stream", ErrBadSDP)
}

// parseAudio extracts one audio media description.
func parseAudio(sd *sdp.SessionDescription, md *sdp.MediaDescription) (*remoteMedia, error) {
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return nil, fmt.Errorf("%w: no c= line", ErrBadSDP)
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return nil, fmt.Errorf("%w: c= address %q", ErrBadSDP, ci.Address.Address)
	}
	port := md.MediaName.Port.Value
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: m= port %d", ErrBadSDP, port)
	}
	rm := &remoteMedia{
		addr:  netip.AddrPortFrom(ip.Unmap(), uint16(port)),
		dir:   SendRecv,
		proto: strings.Join(md.MediaName.Protos, "/"),
	}
	for _, a := range md.Attributes {
		if a.Key != "crypto" || len(rm.crypto) >= maxCryptoLines {
			continue
		}
		if c, ok := parseCrypto(a.Value); ok {
			rm.crypto = append(rm.crypto, c)
		}
	}

	rm.formats = parseFormats(md)
	rm.dir = sdpDirection(sd.Attributes, SendRecv)
	rm.dir = sdpDirection(md.Attributes, rm.dir)
	if v, ok := md.Attribute("ptime"); ok {
		if ms, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && ms > 0 && ms <= 1000 {
			rm.ptime = time.Duration(ms) * time.Millisecond
		}
	}
	return rm, nil
}

// parseFormats returns the formats of an m= line that a phone understands,
// in order: PCMU and PCMA (by rtpmap, or by static payload type) and
// telephone-event, all at 8 kHz.
func parseFormats(md *sdp.MediaDescription) []sdpFormat {
	var formats []sdpFormat
	rtpmap := map[uint8]string{}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		ptStr, enc, _ := strings.Cut(a.Value, " ")
		pt, err := strconv.ParseUint(ptStr, 10, 7)
		if err != nil {
			continue
		}
		name, rest, _ := strings.Cut(enc, "/")
		rate, _, _ := strings.Cut(rest, "/")
		if rate == "8000" {
			rtpmap[uint8(pt)] = strings.ToUpper(name)
		} else {
			rtpmap[uint8(pt)] = "" // not at 8 kHz: not for us
		}
	}
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		name, ok := rtpmap[uint8(pt)]
		if !ok {
			switch pt {
			case 0:
				name = string(PCMU)
			case 8:
				name = string(PCMA)
			}
		}
		switch name {
		case string(PCMU), string(PCMA):
			formats = append(formats, sdpFormat{pt: uint8(pt), name: name})
		case "TELEPHONE-EVENT":
			formats = append(formats, sdpFormat{pt: uint8(pt), name: "telephone-event"})
		}
	}
	return formats
}

// sdpDirection returns the direction attribute among attrs, or def.
func sdpDirection(attrs []sdp.Attribute, def Direction) Direction {
	for _, a := range attrs {
		for d := SendRecv; d <= Inactive; d++ {
			if a.Key == d.String() {
				return d
			}
		}
	}
	return def
}

// localSDP is this phone's side of a stream, rendered by marshal.
type localSDP struct {
	sessionID uint64
	version   uint64
	addr      netip.AddrPort
	formats   []sdpFormat
	dir       Direction
	ptime     time.Duration
	padBytes  int        // add a= lines totalling at least this many bytes
	crypto    *sdpCrypto // set: RTP/SAVP with this a=crypto line; nil: RTP/AVP
}

// padPrefix starts every padding line; receivers ignore unknown attributes
// (RFC 4566 section 5.13).
const padPrefix = "x-mediaservertest-pad:"

// marshal renders the SDP.
func (l *localSDP) marshal() []byte {
	ip := l.addr.Addr().String()
	md := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: int(l.addr.Port())},
			Protos: []string{"RTP", "AVP"},
		},
	}
	for _, f := range l.formats {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(f.pt)))
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/8000", f.pt, f.name)))
		if f.name == "telephone-event" {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", f.pt)))
		}
	}
	if l.crypto != nil {
		md.MediaName.Protos[1] = "SAVP"
		md.Attributes = append(md.Attributes, sdp.NewAttribute("crypto", l.crypto.String()))
	}
	md.Attributes = append(md.Attributes,
		sdp.NewAttribute("ptime", strconv.Itoa(int(l.ptime/time.Millisecond))),
		sdp.NewPropertyAttribute(l.dir.String()))
	for left := l.padBytes; left > 0; {
		n := min(max(left-len("a=\r\n")-len(padPrefix), 1), 64)
		md.Attributes = append(md.Attributes, sdp.NewAttribute(padPrefix[:len(padPrefix)-1], strings.Repeat("x", n)))
		left -= n + len("a=\r\n") + len(padPrefix)
	}
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "-", SessionID: l.sessionID, SessionVersion: l.version,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: ip,
		},
		SessionName: "mediaservertest",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: ip},
		},
		TimeDescriptions:  []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{md},
	}
	b, err := sd.Marshal()
	if err != nil {
		// Marshal fails only for impossible input, which we never build.
		panic("mediaservertest: marshal sdp: " + err.Error())
	}
	return b
}

// sameExceptOrigin reports whether two SDPs differ only in their o= line.
func sameExceptOrigin(a, b []byte) bool {
	strip := func(s []byte) []byte {
		if i := bytes.Index(s, []byte("o=")); i >= 0 {
			if j := bytes.Index(s[i:], []byte("\r\n")); j >= 0 {
				return append(append([]byte(nil), s[:i]...), s[i+j:]...)
			}
		}
		return s
	}
	return bytes.Equal(strip(a), strip(b))
}
