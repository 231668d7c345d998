package sip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestNormalizeSDP(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" when an error is expected
	}{
		{"already strict",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n"},
		{"bare LF and no final newline",
			"v=0\no=a 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 5 RTP/AVP 0",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n"},
		{"missing t= and s=",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 0\r\n",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n"},
		{"misordered session lines",
			"v=0\r\na=sendrecv\r\nt=0 0\r\nc=IN IP4 1.2.3.4\r\ns=x\r\no=a 1 1 IN IP4 1.2.3.4\r\nb=AS:64\r\nm=audio 5 RTP/AVP 0\r\n",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=x\r\nc=IN IP4 1.2.3.4\r\nb=AS:64\r\nt=0 0\r\na=sendrecv\r\nm=audio 5 RTP/AVP 0\r\n"},
		{"misordered media lines and blank lines",
			"v=0\r\n\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nc=IN IP4 1.2.3.4\r\n\r\n",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\na=rtpmap:0 PCMU/8000\r\n"},
		{"t= with r= kept together, trailing spaces",
			"v=0 \r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=1 2\r\nr=7d 1h 0 25h\r\nt=3 4\r\nc=IN IP4 1.2.3.4\r\n",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=1 2\r\nr=7d 1h 0 25h\r\nt=3 4\r\n"},
		{"unknown line type dropped",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nx=whatever\r\nt=0 0\r\n",
			"v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n"},
		{"no v=", "o=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\n", ""},
		{"garbage line", "v=0\r\nhello world\r\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalizeSDP([]byte(tt.in))
			if tt.want == "" {
				if !errors.Is(err, ErrBadSDP) {
					t.Fatalf("want ErrBadSDP, got %q, %v", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v\nwant %q", got, err, tt.want)
			}
			again, err := normalizeSDP([]byte(got))
			if err != nil || again != got {
				t.Fatalf("not idempotent: %q", again)
			}
		})
	}
}

func mustParse(t *testing.T, body string) *sessionDesc {
	t.Helper()
	sd, err := parseSDP([]byte(body))
	if err != nil {
		t.Fatalf("parseSDP: %v\n%s", err, body)
	}
	return sd
}

func TestAnswerOffer(t *testing.T) {
	local := LocalMedia{Addr: netip.MustParseAddr("10.0.0.1"), Port: 20000}
	head := "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	tests := []struct {
		name      string
		media     string
		local     LocalMedia
		wantLines []string
		wantM     int // m= lines in the answer
		remote    Media
		err       error
	}{
		{name: "first supported codec and offerer's te",
			media:     "m=audio 4000 RTP/AVP 18 8 0 96\r\na=rtpmap:18 G729/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\na=ptime:30\r\n",
			wantLines: []string{"m=audio 20000 RTP/AVP 8 96", "a=rtpmap:8 PCMA/8000", "a=rtpmap:96 telephone-event/8000", "a=fmtp:96 0-15", "a=sendrecv", "c=IN IP4 10.0.0.1"},
			wantM:     1,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4001"),
				Codec: PCMA, TelephoneEvent: 96, Ptime: 30 * time.Millisecond}},
		{name: "dynamic PT for PCMU",
			media:     "m=audio 4000 RTP/AVP 97\r\na=rtpmap:97 pcmu/8000\r\n",
			wantLines: []string{"m=audio 20000 RTP/AVP 97", "a=rtpmap:97 PCMU/8000"},
			wantM:     1,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4001"),
				Codec: Codec{PayloadType: 97, Name: "PCMU", ClockRate: 8000}, TelephoneEvent: -1}},
		{name: "video rejected, order kept, rtcp-mux and a=rtcp",
			media:     "m=video 5000 RTP/AVP 31\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp-mux\r\na=rtcp:4005\r\nm=audio 6000 RTP/AVP 0\r\n",
			wantLines: []string{"m=video 0 RTP/AVP 31", "m=audio 20000 RTP/AVP 0", "a=rtcp-mux", "m=audio 0 RTP/AVP 0"},
			wantM:     3,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4000"),
				RTCPMux: true, Codec: PCMU, TelephoneEvent: -1}},
		{name: "a=rtcp with address",
			media: "m=audio 4000 RTP/AVP 0\r\na=rtcp:4009 IN IP4 192.0.2.9\r\n",
			wantM: 1,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.9:4009"),
				Codec: PCMU, TelephoneEvent: -1}},
		{name: "sendonly answered recvonly", media: "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n",
			wantLines: []string{"a=recvonly"}, wantM: 1,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4001"), Codec: PCMU, TelephoneEvent: -1, Direction: SendOnly}},
		{name: "recvonly answered sendonly", media: "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n",
			wantLines: []string{"a=sendonly"}, wantM: 1,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4001"), Codec: PCMU, TelephoneEvent: -1, Direction: RecvOnly}},
		{name: "monitor leg: sendrecv offer, local sendonly", media: "m=audio 4000 RTP/AVP 0\r\n",
			local:     LocalMedia{Addr: netip.MustParseAddr("10.0.0.1"), Port: 20000, Direction: SendOnly},
			wantLines: []string{"a=sendonly"}, wantM: 1,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4001"), Codec: PCMU, TelephoneEvent: -1}},
		{name: "only G.729", media: "m=audio 4000 RTP/AVP 18\r\n", err: ErrNoCommonCodec},
		{name: "only SRTP", media: "m=audio 4000 RTP/SAVP 0\r\n", err: ErrNoCommonCodec},
		{name: "SRTP and RTP", media: "m=audio 4000 RTP/SAVP 0\r\nm=audio 4002 RTP/AVP 8\r\n",
			wantLines: []string{"m=audio 0 RTP/SAVP 0", "m=audio 20000 RTP/AVP 8"}, wantM: 2,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4002"), RTCP: netip.MustParseAddrPort("192.0.2.1:4003"), Codec: PCMA, TelephoneEvent: -1}},
		{name: "local codecs limit the choice", media: "m=audio 4000 RTP/AVP 0 8\r\n",
			local:     LocalMedia{Addr: netip.MustParseAddr("10.0.0.1"), Port: 20000, Codecs: []Codec{PCMA}},
			wantLines: []string{"m=audio 20000 RTP/AVP 8"}, wantM: 1,
			remote: Media{RTP: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4001"), Codec: PCMA, TelephoneEvent: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.local
			if !l.Addr.IsValid() {
				l = local
			}
			rest, remote, err := answerOffer(mustParse(t, head+tt.media), l, &srtpPolicy{})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("want %v, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ls := localSDP{id: 7, version: 7, addr: l.Addr}
			body := ls.render(rest)
			ans := mustParse(t, string(body))
			if len(ans.media) != tt.wantM {
				t.Fatalf("answer has %d m= lines, want %d:\n%s", len(ans.media), tt.wantM, body)
			}
			for _, w := range tt.wantLines {
				if !hasLine(body, w) {
					t.Errorf("answer lacks %q:\n%s", w, body)
				}
			}
			if remote != tt.remote {
				t.Errorf("remote %+v\nwant   %+v", remote, tt.remote)
			}
		})
	}
}

func TestLocalSDPVersion(t *testing.T) {
	ls := localSDP{id: 42, version: 42, addr: netip.MustParseAddr("10.0.0.1")}
	a := string(ls.render("s=-\r\n"))
	b := string(ls.render("s=-\r\n"))
	c := string(ls.render("s=x\r\n"))
	if !strings.Contains(a, "o=mediaserver 42 42 ") || a != b || !strings.Contains(c, "o=mediaserver 42 43 ") {
		t.Fatalf("versions:\n%s\n%s\n%s", a, b, c)
	}
}

func TestParseAnswer(t *testing.T) {
	local := LocalMedia{Addr: netip.MustParseAddr("10.0.0.1"), Port: 20000}
	m, err := parseAnswer(mustParse(t, "v=0\no=x 1 1 IN IP6 ::1\ns=-\nc=IN IP6 2001:db8::1\nt=0 0\nm=audio 4000 RTP/AVP 8 101\na=rtpmap:101 telephone-event/8000\na=ptime:40"), local, srtpPolicy{})
	if err != nil || m.RTP != netip.MustParseAddrPort("[2001:db8::1]:4000") || m.Codec != PCMA || m.TelephoneEvent != 101 || m.Ptime != 40*time.Millisecond {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := parseAnswer(mustParse(t, "v=0\no=x 1 1 IN IP4 1.1.1.1\ns=-\nc=IN IP4 1.1.1.1\nt=0 0\nm=audio 0 RTP/AVP 0\n"), local, srtpPolicy{}); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("rejected stream: %v", err)
	}
	if _, err := parseSDP([]byte("v=0\no=x 1 1 IN IP4 1.1.1.1\ns=-\nc=IN IP4 host.example.com\nt=0 0\nm=audio 5 RTP/AVP 0\n")); !errors.Is(err, ErrBadSDP) {
		t.Fatalf("host name in c=: %v", err)
	}
}

func TestMediaCanSend(t *testing.T) {
	ap := netip.MustParseAddrPort("192.0.2.1:4000")
	for _, tt := range []struct {
		m    Media
		want bool
	}{
		{Media{RTP: ap}, true},
		{Media{RTP: ap, Direction: RecvOnly}, true},
		{Media{RTP: ap, Direction: SendOnly}, false},
		{Media{RTP: ap, Direction: Inactive}, false},
		{Media{RTP: netip.MustParseAddrPort("0.0.0.0:4000")}, false},
		{Media{}, false},
	} {
		if got := tt.m.CanSend(); got != tt.want {
			t.Errorf("%+v: CanSend %v", tt.m, got)
		}
	}
}
