package sip

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// telephoneEventPT is the payload type of telephone-event in our offers.
const telephoneEventPT = 101

// defaultPtime is the packetisation time we ask for.
const defaultPtime = 20

func localCodecs(l LocalMedia) []Codec {
	if len(l.Codecs) == 0 {
		return []Codec{PCMU, PCMA}
	}
	return l.Codecs
}

// codecOf resolves payload type pt of m: its rtpmap, else the static
// assignments of RFC 3551 that we know.
func (m *sdpMedia) codecOf(pt string) (rtpmapEntry, bool) {
	if e, ok := m.rtpmap[pt]; ok {
		return e, true
	}
	switch pt {
	case "0":
		return rtpmapEntry{name: "PCMU", rate: 8000}, true
	case "8":
		return rtpmapEntry{name: "PCMA", rate: 8000}, true
	}
	return rtpmapEntry{}, false
}

// pickCodec returns m's first format that we support (in m's order), with
// m's payload type, and the payload type m gives telephone-event/8000 (-1
// when none).
func pickCodec(m *sdpMedia, local []Codec) (Codec, int, bool) {
	te := -1
	var chosen Codec
	found := false
	for _, f := range m.formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		e, ok := m.codecOf(f)
		if !ok {
			continue
		}
		if e.name == "TELEPHONE-EVENT" && e.rate == 8000 {
			if te < 0 {
				te = int(pt)
			}
			continue
		}
		if found {
			continue
		}
		for _, c := range local {
			if strings.EqualFold(c.Name, e.name) && c.ClockRate == e.rate {
				chosen = Codec{PayloadType: uint8(pt), Name: c.Name, ClockRate: c.ClockRate}
				found = true
				break
			}
		}
	}
	return chosen, te, found
}

// remoteMedia turns an accepted m= section into the Media the root needs.
func remoteMedia(m *sdpMedia, codec Codec, te int, mux bool) (Media, error) {
	if !m.conn.IsValid() {
		return Media{}, fmt.Errorf("%w: no c= line for audio", ErrBadSDP)
	}
	rtp := netip.AddrPortFrom(m.conn, uint16(m.port))
	out := Media{RTP: rtp, RTCPMux: mux, Codec: codec, TelephoneEvent: te, Direction: m.dir, Ptime: m.ptime}
	switch {
	case mux:
		out.RTCP = rtp
	case m.rtcp.IsValid():
		out.RTCP = m.rtcp
	case m.port > 0 && m.port < 65535:
		out.RTCP = netip.AddrPortFrom(m.conn, uint16(m.port+1))
	}
	return out, nil
}

// answerDirection derives our direction from the offer's (RFC 3264 §6.1),
// limited by what the local side allows. An offer with c=0.0.0.0 and no
// direction attribute is the old hold of RFC 2543: treated as sendonly.
func answerDirection(m *sdpMedia, local Direction) Direction {
	offer := m.dir
	if offer == SendRecv && m.conn.IsValid() && m.conn.IsUnspecified() {
		offer = SendOnly
	}
	send := (offer == SendRecv || offer == RecvOnly) && (local == SendRecv || local == SendOnly)
	recv := (offer == SendRecv || offer == SendOnly) && (local == SendRecv || local == RecvOnly)
	return directionOf(send, recv)
}

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

// answerOffer negotiates an offer (decision 6): the answer keeps the offer's
// m= lines in number and order, accepts the first audio stream we can run
// with one codec (the offerer's first that we support) plus telephone-event
// at the offerer's payload type, and rejects every other stream with port
// 0. Under pol, an RTP/SAVP stream is accepted only when keys may be sent
// (SRTP on, signalling over TLS) and it has a usable crypto attribute; it
// is answered with our key under the offerer's first usable tag (RFC 4568
// §7.1.2), and plain streams are refused when SRTP is required. It returns
// the answer's lines after o= and the remote media, and on success records
// the outcome in pol. ErrNoSRTP when an audio stream failed for SRTP and
// none was accepted, else ErrNoCommonCodec.
func answerOffer(off *sessionDesc, local LocalMedia, pol *srtpPolicy) (string, Media, error) {
	var b strings.Builder
	writeSessionHead(&b, local.Addr)
	var remote Media
	var chosen *cryptoAttr
	accepted, srtpRefused := false, false
	for i := range off.media {
		m := &off.media[i]
		if !accepted && m.kind == "audio" && m.port != 0 {
			crypto, ok, srtpIssue := acceptStream(m, pol)
			srtpRefused = srtpRefused || srtpIssue
			if codec, te, found := pickCodec(m, localCodecs(local)); ok && found {
				r, err := remoteMedia(m, codec, te, m.rtcpMux)
				if err != nil {
					return "", Media{}, err
				}
				line := ""
				if crypto != nil {
					r.SRTP = pol.keys(*crypto)
					line = cryptoAttr{tag: crypto.tag, suite: crypto.suite, key: pol.key}.String()
				}
				remote, chosen, accepted = r, crypto, true
				writeAudio(&b, m.proto, local.Port, []Codec{codec}, te, m.fmtp[strconv.Itoa(te)], answerDirection(m, local.Direction), m.rtcpMux, line)
				continue
			}
		}
		writeRejected(&b, m)
	}
	switch {
	case !accepted && srtpRefused:
		return "", Media{}, ErrNoSRTP
	case !accepted:
		return "", Media{}, ErrNoCommonCodec
	}
	pol.accepted(chosen)
	return b.String(), remote, nil
}

// acceptStream decides whether an audio stream's transport profile is
// acceptable under pol: ok, with the peer's crypto attribute for an SRTP
// stream. srtpIssue is true when SRTP alone made it unacceptable.
func acceptStream(m *sdpMedia, pol *srtpPolicy) (crypto *cryptoAttr, ok, srtpIssue bool) {
	switch {
	case plainProto(m.proto):
		return nil, !pol.require, pol.require
	case secureProto(m.proto):
		if !pol.allow {
			return nil, false, true // no keys over UDP or TCP, nor without SRTP
		}
		c, found := pickCrypto(m)
		if !found {
			return nil, false, true
		}
		return &c, true, false
	}
	return nil, false, false
}

// checkOffer reports whether an offer could be answered with the default
// codecs, without building the answer: 400 and 488 are decided before the
// application sees the call.
func checkOffer(off *sessionDesc, local LocalMedia, pol srtpPolicy) error {
	_, _, err := answerOffer(off, local, &pol)
	return err
}

// buildOffer returns our offer's lines after o=: PCMU 0, PCMA 8 (or
// local.Codecs), telephone-event 101 (0-16), ptime 20, and local.Direction;
// RTP/SAVP with our crypto attribute when pol says our offers are SRTP.
func buildOffer(local LocalMedia, pol srtpPolicy) string {
	var b strings.Builder
	writeSessionHead(&b, local.Addr)
	proto, line := "RTP/AVP", ""
	if pol.offerSecure() {
		proto, line = "RTP/SAVP", pol.offerCrypto().String()
	}
	writeAudio(&b, proto, local.Port, localCodecs(local), telephoneEventPT, "", local.Direction, false, line)
	return b.String()
}

// parseAnswer reads the answer to our offer: the first accepted audio
// stream of the profile we offered, its codec (one we offered) and
// telephone-event; for an SRTP offer, the peer's key under the tag and
// suite we offered (ErrNoSRTP without one).
func parseAnswer(ans *sessionDesc, local LocalMedia, pol srtpPolicy) (Media, error) {
	secure := pol.offerSecure()
	ours := pol.offerCrypto()
	for i := range ans.media {
		m := &ans.media[i]
		if m.kind != "audio" || m.port == 0 || (secure && !secureProto(m.proto)) || (!secure && !plainProto(m.proto)) {
			continue
		}
		codec, te, ok := pickCodec(m, localCodecs(local))
		if !ok {
			return Media{}, ErrNoCommonCodec
		}
		r, err := remoteMedia(m, codec, te, m.rtcpMux)
		if err != nil || !secure {
			return r, err
		}
		for _, c := range m.crypto {
			if c.tag == ours.tag && c.suite == ours.suite && !bytes.Equal(c.key, pol.key) {
				r.SRTP = pol.keys(c)
				return r, nil
			}
		}
		return Media{}, ErrNoSRTP
	}
	if secure {
		return Media{}, ErrNoSRTP
	}
	return Media{}, ErrNoCommonCodec
}

// answered records in pol the outcome of an answer to our offer.
func (p *srtpPolicy) answered(m Media) {
	if m.SRTP == nil {
		p.accepted(nil)
		return
	}
	c := p.offerCrypto()
	p.accepted(&c)
}

func addrType(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "IP4"
	}
	return "IP6"
}

func writeSessionHead(b *strings.Builder, addr netip.Addr) {
	b.WriteString("s=mediaserver\r\nc=IN ")
	b.WriteString(addrType(addr))
	b.WriteByte(' ')
	b.WriteString(addr.Unmap().String())
	b.WriteString("\r\nt=0 0\r\n")
}

// writeAudio writes an audio m= section; crypto, when not empty, is the
// value of its a=crypto line.
func writeAudio(b *strings.Builder, proto string, port int, codecs []Codec, te int, teFmtp string, dir Direction, mux bool, crypto string) {
	b.WriteString("m=audio ")
	b.WriteString(strconv.Itoa(port))
	b.WriteByte(' ')
	b.WriteString(proto)
	for _, c := range codecs {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(int(c.PayloadType)))
	}
	if te >= 0 {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(te))
	}
	b.WriteString("\r\n")
	for _, c := range codecs {
		fmt.Fprintf(b, "a=rtpmap:%d %s/%d\r\n", c.PayloadType, c.Name, c.ClockRate)
	}
	if te >= 0 {
		if teFmtp == "" {
			teFmtp = "0-16"
		}
		fmt.Fprintf(b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d %s\r\n", te, te, teFmtp)
	}
	fmt.Fprintf(b, "a=ptime:%d\r\n", defaultPtime)
	if mux {
		b.WriteString("a=rtcp-mux\r\n")
	}
	if crypto != "" {
		b.WriteString("a=crypto:")
		b.WriteString(crypto)
		b.WriteString("\r\n")
	}
	b.WriteString("a=")
	b.WriteString(dir.String())
	b.WriteString("\r\n")
}

// writeRejected answers an m= line we do not accept with port 0, echoing its
// formats (RFC 3264 §6).
func writeRejected(b *strings.Builder, m *sdpMedia) {
	b.WriteString("m=")
	b.WriteString(m.kind)
	b.WriteString(" 0 ")
	b.WriteString(m.proto)
	for _, f := range m.formats {
		b.WriteByte(' ')
		b.WriteString(f)
	}
	if len(m.formats) == 0 {
		b.WriteString(" 0")
	}
	b.WriteString("\r\n")
}

// localSDP is our side of a dialog's SDP: o= keeps its session id, and its
// version grows only when the rest of our SDP changes (decision 6).
type localSDP struct {
	id, version uint64
	addr        netip.Addr
	rest        string // last lines after o=; empty before the first
}

// render returns the whole body for rest, bumping the version if rest
// differs from the previous SDP.
func (l *localSDP) render(rest string) []byte {
	if l.rest != "" && rest != l.rest {
		l.version++
	}
	l.rest = rest
	var b strings.Builder
	b.Grow(len(rest) + 80)
	b.WriteString("v=0\r\no=mediaserver ")
	b.WriteString(strconv.FormatUint(l.id, 10))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatUint(l.version, 10))
	b.WriteString(" IN ")
	b.WriteString(addrType(l.addr))
	b.WriteByte(' ')
	b.WriteString(l.addr.Unmap().String())
	b.WriteString("\r\n")
	b.WriteString(rest)
	return []byte(b.String())
}
