package mediaservertest

import (
	"bytes"
	"encoding/base64"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

func TestParseCrypto(t *testing.T) {
	key := bytes.Repeat([]byte{7}, srtpKeyLen)
	inline := base64.StdEncoding.EncodeToString(key)
	tests := []struct {
		name  string
		value string
		ok    bool
		tag   uint32
		suite string
	}{
		{"80", "1 AES_CM_128_HMAC_SHA1_80 inline:" + inline, true, 1, suite80},
		{"32 with lifetime", "42 AES_CM_128_HMAC_SHA1_32 inline:" + inline + "|2^31", true, 42, suite32},
		{"method case", "3 AES_CM_128_HMAC_SHA1_80 INLINE:" + inline + "|1048576", true, 3, suite80},
		{"mki", "1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "|2^20|1:4", false, 0, ""},
		{"mki without lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "|1:4", false, 0, ""},
		{"two keys", "1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + ";inline:" + inline, false, 0, ""},
		{"session parameter", "1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + " UNENCRYPTED_SRTP", false, 0, ""},
		{"other suite", "1 AES_256_CM_HMAC_SHA1_80 inline:" + inline, false, 0, ""},
		{"short key", "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(key[:16]), false, 0, ""},
		{"bad base64", "1 AES_CM_128_HMAC_SHA1_80 inline:***", false, 0, ""},
		{"bad tag", "x AES_CM_128_HMAC_SHA1_80 inline:" + inline, false, 0, ""},
		{"tag too big", "1000000000 AES_CM_128_HMAC_SHA1_80 inline:" + inline, false, 0, ""},
		{"not inline", "1 AES_CM_128_HMAC_SHA1_80 uri:" + inline, false, 0, ""},
		{"empty", "", false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := parseCrypto(tt.value)
			if ok != tt.ok || ok && (c.tag != tt.tag || c.suite != tt.suite || !bytes.Equal(c.key, key)) {
				t.Fatalf("parseCrypto(%q) = %+v, %v", tt.value, c, ok)
			}
		})
	}
}

func FuzzParseCrypto(f *testing.F) {
	inline := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, srtpKeyLen))
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:" + inline)
	f.Add("7 AES_CM_128_HMAC_SHA1_32 inline:" + inline + "|2^31")
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:" + inline + "|2^20|1:4")
	f.Fuzz(func(t *testing.T, v string) {
		c, ok := parseCrypto(v)
		if !ok {
			return
		}
		if len(c.key) != srtpKeyLen || c.tag > maxCryptoTag || c.suite != suite80 && c.suite != suite32 {
			t.Fatalf("parsed %+v", c)
		}
		back, ok := parseCrypto(c.String())
		if !ok || back.tag != c.tag || back.suite != c.suite || !bytes.Equal(back.key, c.key) {
			t.Fatalf("round trip of %q: %+v, %v", c.String(), back, ok)
		}
	})
}

// TestSRTPOnTheWire looks at what an SRTP call sends: RTP headers in clear,
// payloads that are not G.711 of the tone, each with a 10-byte tag; and
// decrypted with the key from the SDP, the tone and an RFC 4733 event.
func TestSRTPOnTheWire(t *testing.T) {
	peer := rawPeer(t)
	m := newTestMedia(t, PhoneConfig{SRTP: true, ToneHz: 1000})
	local, remote := newSRTPKey(), newSRTPKey()
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := m.configure(to, PCMU, 0, 101, [2]int{101, 101}, &srtpKeys{suite: suite80, local: local, remote: remote}); err != nil {
		t.Fatal(err)
	}
	m.setSending(true)
	raw := readRaw(t, peer, 25)
	if _, err := m.queueDigits("7", DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	raw = append(raw, readRaw(t, peer, 15)...)

	dec, err := newSRTPContext(local, suite80, true)
	if err != nil {
		t.Fatal(err)
	}
	var clear, plain []int16
	var events int
	for i, b := range raw {
		var h rtp.Header
		if _, err := h.Unmarshal(b); err != nil || h.SSRC != m.ssrc {
			t.Fatalf("packet %d: header %+v, %v", i, h, err)
		}
		if h.PayloadType == 0 && len(b) != 12+160+10 || h.PayloadType == 101 && len(b) != 12+4+10 {
			t.Fatalf("packet %d: pt %d, %d bytes; want the payload plus a 10-byte tag", i, h.PayloadType, len(b))
		}
		if h.PayloadType == 0 {
			for _, v := range b[12 : 12+160] {
				clear = append(clear, g711.DecodeUlawFrame(v))
			}
		}
		out, err := dec.DecryptRTP(nil, b, nil)
		if err != nil {
			t.Fatalf("packet %d does not decrypt with the local key: %v", i, err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(out); err != nil {
			t.Fatal(err)
		}
		switch p.PayloadType {
		case 0:
			for _, v := range p.Payload {
				plain = append(plain, g711.DecodeUlawFrame(v))
			}
		case 101:
			if ev, err := parseTelephoneEvent(p.Payload); err != nil || ev.Event != 7 {
				t.Errorf("event %+v, %v", ev, err)
			}
			events++
		}
	}
	if s := ToneShare(clear, 1000); s > 0.05 {
		t.Errorf("the payloads on the wire decode as the tone: share %.2f", s)
	}
	if s := ToneShare(plain, 1000); s < 0.9 {
		t.Errorf("decrypted payloads: share %.2f at 1000 Hz", s)
	}
	if events == 0 {
		t.Error("no RFC 4733 packet")
	}
}

// readRaw reads n datagrams from c.
func readRaw(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	buf := make([]byte, 1600)
	for len(out) < n {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d packets: %v", len(out), err)
		}
		out = append(out, bytes.Clone(buf[:k]))
	}
	return out
}

// TestSRTPReceive feeds an SRTP receiver: packets that arrive before the key
// are held and heard once it is known; tampered, replayed, plain and
// wrongly keyed packets are counted and not heard.
func TestSRTPReceive(t *testing.T) {
	r := receiver{secure: true, tePTs: [2]int{-1, -1}}
	key, other := newSRTPKey(), newSRTPKey()
	enc, err := newSRTPContext(key, suite32, false)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := newSRTPContext(other, suite32, false)
	if err != nil {
		t.Fatal(err)
	}
	tone := sine(160*40, 600, 0.3)
	packet := func(ctx interface {
		EncryptRTP([]byte, []byte, *rtp.Header) ([]byte, error)
	}, i int) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(65530 + i), Timestamp: uint32(160 * i), SSRC: 5}}
		for _, v := range tone[160*i : 160*(i+1)] {
			p.Payload = append(p.Payload, g711.EncodeUlawFrame(v))
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if ctx == nil {
			return b
		}
		out, err := ctx.EncryptRTP(nil, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	src := netip.MustParseAddrPort("127.0.0.1:4000")
	var pkt rtp.Packet
	for i := range 10 { // before the answer: held; the sequence wraps
		r.handle(&pkt, packet(enc, i), src, false)
	}
	var s Stats
	if r.fill(&s); s.PacketsReceived != 0 || len(r.held) != 10 {
		t.Fatalf("before the key: %+v, %d held", s, len(r.held))
	}
	rx, err := newSRTPContext(key, suite32, true)
	if err != nil {
		t.Fatal(err)
	}
	r.setSRTP(rx, &srtpKeys{suite: suite32, remote: key})
	replay := packet(enc, 10)
	r.handle(&pkt, bytes.Clone(replay), src, false)
	r.handle(&pkt, replay, src, false) // decrypted in place: but a replay anyway
	tampered := packet(enc, 11)
	tampered[20] ^= 1
	r.handle(&pkt, tampered, src, false)
	r.handle(&pkt, packet(nil, 12), src, false)
	r.handle(&pkt, packet(wrong, 13), src, false)
	for i := 14; i < 40; i++ {
		r.handle(&pkt, packet(enc, i), src, false)
	}
	r.fill(&s)
	if s.PacketsReceived != 10+1+26 || s.SRTPAuthFailures != 4 || s.Malformed != 0 || s.SequenceGaps != 3 {
		t.Errorf("stats %+v", s)
	}
	heard := r.audioSince(time.Time{})
	if heard.Duration() != 37*20*time.Millisecond || heard.Share(600) < 0.95 {
		t.Errorf("heard %s", describe(heard, 600))
	}
}

func TestSDPCryptoRoundTrip(t *testing.T) {
	key := newSRTPKey()
	l := localSDP{
		sessionID: 1, version: 1, addr: netip.MustParseAddrPort("127.0.0.1:4000"), ptime: 20 * time.Millisecond,
		formats: []sdpFormat{{pt: 0, name: "PCMU"}}, crypto: &sdpCrypto{tag: 9, suite: suite32, key: key},
	}
	rm, err := parseSDP(l.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if rm.proto != protoSAVP || len(rm.crypto) != 1 || rm.crypto[0].tag != 9 || rm.crypto[0].suite != suite32 || !bytes.Equal(rm.crypto[0].key, key) {
		t.Errorf("parsed %+v from\n%s", rm, l.marshal())
	}
	l.crypto = nil
	if rm, err = parseSDP(l.marshal()); err != nil || rm.proto != "RTP/AVP" || rm.crypto != nil {
		t.Errorf("plain: %+v, %v", rm, err)
	}
}
