package mediaservertest

import (
	"crypto/tls"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseSDP(t *testing.T) {
	// SIPp's offer, with bare LF and no final line end.
	sipp := "v=0\no=uac 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n" +
		"m=audio 16060 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15"
	rm, err := parseSDP([]byte(sipp))
	if err != nil {
		t.Fatal(err)
	}
	if rm.addr != netip.MustParseAddrPort("127.0.0.1:16060") || rm.dir != SendRecv || rm.telephoneEventPT() != 101 {
		t.Errorf("parsed %+v", rm)
	}
	if pt, ok := rm.find(PCMU); !ok || pt != 0 {
		t.Errorf("PCMU pt = %d, %v", pt, ok)
	}

	hold := "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n" +
		"m=video 0 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 8 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 opus/48000/2\r\na=ptime:30\r\n"
	rm, err = parseSDP([]byte(hold))
	if err != nil {
		t.Fatal(err)
	}
	if rm.hasAddr() || rm.dir != SendOnly || rm.ptime != 30*time.Millisecond || len(rm.formats) != 1 || rm.formats[0].name != "PCMA" {
		t.Errorf("parsed %+v", rm)
	}

	for name, bad := range map[string]string{
		"garbage":  "hello",
		"no audio": "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5 RTP/AVP 96\r\n",
		"no c=":    "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n",
		"bad c=":   "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 example.com\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n",
	} {
		if _, err := parseSDP([]byte(bad)); !errors.Is(err, ErrBadSDP) {
			t.Errorf("%s: err = %v, want ErrBadSDP", name, err)
		}
	}
}

func TestLocalSDPRoundTrip(t *testing.T) {
	l := localSDP{
		sessionID: 7, version: 1, addr: netip.MustParseAddrPort("127.0.0.1:4000"), dir: RecvOnly, ptime: 30 * time.Millisecond,
		formats: []sdpFormat{{pt: 8, name: "PCMA"}, {pt: 0, name: "PCMU"}, {pt: 101, name: "telephone-event"}},
	}
	body := l.marshal()
	rm, err := parseSDP(body)
	if err != nil {
		t.Fatal(err)
	}
	if rm.addr != l.addr || rm.dir != RecvOnly || rm.ptime != l.ptime || len(rm.formats) != 3 || rm.formats[0].name != "PCMA" {
		t.Errorf("round trip of\n%s gave %+v", body, rm)
	}
	l.padBytes = 1500
	padded := l.marshal()
	if got := len(padded) - len(body); got < 1500 || got > 1600 {
		t.Errorf("padding added %d bytes, want about 1500", got)
	}
	if _, err := parseSDP(padded); err != nil {
		t.Errorf("padded SDP does not parse: %v", err)
	}
	if !sameExceptOrigin(body, []byte(strings.Replace(string(body), "o=- 7 1", "o=- 7 2", 1))) {
		t.Error("sameExceptOrigin: versions differ only")
	}
}

func TestAnswerDirection(t *testing.T) {
	tests := []struct{ offer, want, answer Direction }{
		{SendRecv, SendRecv, SendRecv},
		{SendOnly, SendRecv, RecvOnly},
		{RecvOnly, SendRecv, SendOnly},
		{Inactive, SendRecv, Inactive},
		{SendRecv, SendOnly, SendOnly},
		{SendOnly, SendOnly, Inactive},
	}
	for _, tt := range tests {
		if got := answerDirection(tt.offer, tt.want); got != tt.answer {
			t.Errorf("answer to %v wanting %v = %v, want %v", tt.offer, tt.want, got, tt.answer)
		}
	}
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n"))
	f.Add([]byte("v=0\no=- 1 1 IN IP4 ::1\ns=-\nt=0 0\nm=audio 1 RTP/AVP 8\nc=IN IP6 ::1\na=ptime:20"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rm, err := parseSDP(b)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("error %v does not wrap ErrBadSDP", err)
			}
			return
		}
		if rm.addr.Port() == 0 || rm.dir < SendRecv || rm.dir > Inactive {
			t.Fatalf("parsed %+v", rm)
		}
		for _, f := range rm.formats {
			if f.pt > 127 {
				t.Fatalf("payload type %d", f.pt)
			}
		}
	})
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	cfg, err := PhoneConfig{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "phone" || len(cfg.Codecs) != 2 || cfg.Ptime != 20*time.Millisecond ||
		cfg.TelephoneEventPT != 101 || cfg.AnswerCode != 200 || cfg.Transport != "udp" {
		t.Errorf("defaults: %+v", cfg)
	}
	bad := PhoneConfig{
		User: "a@b", Codecs: []Codec{"G729", PCMU, PCMU}, TelephoneEventPT: 50, Ptime: 15500 * time.Microsecond,
		ToneHz: 5000, AnswerCode: 180, RingFor: -1, Transport: "tls", PadInviteTo: -1, TLS: &tls.Config{},
	}
	_, err = bad.withDefaults()
	fields := map[string]bool{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConfigError
		if errors.As(e, &ce) {
			fields[ce.Field] = true
		}
	}
	for _, f := range []string{"User", "Codecs", "TelephoneEventPT", "Ptime", "ToneHz", "AnswerCode", "RingFor", "Transport", "PadInviteTo", "TLS"} {
		if !fields[f] {
			t.Errorf("no ConfigError for %s in %v", f, err)
		}
	}
}
