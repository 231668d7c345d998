package sip

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestParseINFODTMF(t *testing.T) {
	tests := []struct {
		ct, body string
		digit    byte
		dur      time.Duration
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond, true},
		{"Application/DTMF-Relay; charset=x", "signal = *\nduration= 250", '*', 250 * time.Millisecond, true},
		{"application/dtmf-relay", "Signal=11\r\n", '#', 0, true},
		{"application/dtmf-relay", "Signal=b\r\n", 'B', 0, true},
		{"application/dtmf-relay", "Duration=100\r\n", 0, 0, false},
		{"application/dtmf-relay", "Signal=X\r\n", 0, 0, false},
		{"application/dtmf", "7", '7', 0, true},
		{"application/dtmf", " #\r\n", '#', 0, true},
		{"application/dtmf", "77", 0, 0, false},
		{"text/plain", "5", 0, 0, false},
		{"application/dtmf", "", 0, 0, false},
	}
	for _, tt := range tests {
		d, dur, err := parseINFODTMF(tt.ct, []byte(tt.body))
		if (err == nil) != tt.ok || d != tt.digit || dur != tt.dur {
			t.Errorf("%q %q: got %q %v %v", tt.ct, tt.body, d, dur, err)
		}
	}
}

func TestRouteTarget(t *testing.T) {
	trunks := []Trunk{
		{Name: "main", Proxy: "192.0.2.10:5070", Domain: "carrier.example", Transport: "tcp"},
		{Name: "other", Domain: "other.example"},
	}
	tests := []struct {
		target, ruri, dest, tp, trunk string
		err                           bool
	}{
		{"sip:bob@192.0.2.5", "sip:bob@192.0.2.5", "192.0.2.5:5060", "UDP", "", false},
		{"sip:bob@192.0.2.5:5080;transport=tcp", "sip:bob@192.0.2.5:5080;transport=tcp", "192.0.2.5:5080", "TCP", "", false},
		{"SIP:bob@carrier.example", "sip:bob@carrier.example", "192.0.2.10:5070", "TCP", "main", false},
		{"sip:bob@other.example", "sip:bob@other.example", "other.example:5060", "UDP", "other", false},
		{"bob@192.0.2.5", "sip:bob@192.0.2.5", "192.0.2.5:5060", "UDP", "", false},
		{"+44 20 7946-0000", "sip:+442079460000@carrier.example;user=phone", "192.0.2.10:5070", "TCP", "main", false},
		{"0049 (30) 1234.5678", "sip:00493012345678@carrier.example;user=phone", "192.0.2.10:5070", "TCP", "main", false},
		{"tel:+15551234567;phone-context=x", "sip:+15551234567@carrier.example;user=phone", "192.0.2.10:5070", "TCP", "main", false},
		{"alice", "sip:alice@carrier.example", "192.0.2.10:5070", "TCP", "main", false},
		{"sips:bob@192.0.2.5", "", "", "", "", true},
		{"sip:bob@192.0.2.5;transport=tls", "", "", "", "", true},
		{"bad user<>", "", "", "", "", true},
		{"", "", "", "", "", true},
	}
	for _, tt := range tests {
		r, err := routeTarget(tt.target, trunks, false)
		if tt.err {
			if !errors.Is(err, ErrNoRoute) {
				t.Errorf("%q: want ErrNoRoute, got %+v %v", tt.target, r, err)
			}
			continue
		}
		name := ""
		if r.trunk != nil {
			name = r.trunk.Name
		}
		if err != nil || r.ruri.String() != tt.ruri || r.dest != tt.dest || r.transport != tt.tp || name != tt.trunk {
			t.Errorf("%q: got %s %s %s %q %v", tt.target, r.ruri.String(), r.dest, r.transport, name, err)
		}
	}
	if _, err := routeTarget("5551234", nil, false); !errors.Is(err, ErrNoRoute) {
		t.Errorf("no trunk: %v", err)
	}
	// With Config.TLS: sips: and ;transport=tls go over TLS (5061).
	trunks = append(trunks, Trunk{Name: "secure", Proxy: "sbc.example", Domain: "secure.example", Transport: "tls"})
	for _, tt := range []struct {
		target, ruri, dest, tp, trunk string
		err                           bool
	}{
		{"sips:bob@192.0.2.5", "sips:bob@192.0.2.5", "192.0.2.5:5061", "TLS", "", false},
		{"sip:bob@192.0.2.5;transport=tls", "sip:bob@192.0.2.5;transport=tls", "192.0.2.5:5061", "TLS", "", false},
		{"sip:bob@192.0.2.5:5071;transport=TLS", "sip:bob@192.0.2.5:5071;transport=TLS", "192.0.2.5:5071", "TLS", "", false},
		{"sips:bob@secure.example", "sips:bob@secure.example", "sbc.example:5061", "TLS", "secure", false},
		{"sips:bob@carrier.example", "", "", "", "", true}, // a tcp trunk cannot carry sips
		{"sips:bob@192.0.2.5;transport=udp", "", "", "", "", true},
	} {
		r, err := routeTarget(tt.target, trunks, true)
		if tt.err {
			if !errors.Is(err, ErrNoRoute) {
				t.Errorf("%q: want ErrNoRoute, got %+v %v", tt.target, r, err)
			}
			continue
		}
		name := ""
		if r.trunk != nil {
			name = r.trunk.Name
		}
		if err != nil || r.ruri.String() != tt.ruri || r.dest != tt.dest || r.transport != tt.tp || name != tt.trunk {
			t.Errorf("%q: got %s %s %s %q %v", tt.target, r.ruri.String(), r.dest, r.transport, name, err)
		}
	}
}

func TestScreenMessage(t *testing.T) {
	ok := "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 4\r\n\r\nbody"
	tests := []struct {
		msg      string
		datagram bool
		code     int
	}{
		{ok, true, 0},
		{"SIP/2.0 200 OK\r\n\r\n", true, 0},
		{"INVITE sip:a@b SIP/2.0 \r\nVia: x\r\n\r\n", true, 400},
		{"INVITE  sip:a@b SIP/2.0\r\n\r\n", true, 400},
		{"INVITE sip:a@b; lr SIP/2.0\r\n\r\n", true, 400},
		{"OPTIONS soap.beep://h:1 SIP/2.0\r\n\r\n", true, 416},
		{"INVITE <sip:a@b> SIP/2.0\r\n\r\n", true, 400},
		{"INVITE sip:a@b HTTP/1.1\r\n\r\n", true, 400},
		{"OPTIONS sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP h\r\n\r\n", true, 505},
		{"OPTIONS sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP h\r\n\r\n", false, 505},
		{"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n", true, 400}, // no Via
		{"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n", false, 400},
		{"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h\r\nContent-Length: 0\r\n\r\n", false, 0},
		{strings.Replace(ok, "Content-Length: 4", "Content-Length: 40", 1), true, 400},
		{strings.Replace(ok, "Content-Length: 4", "l: -4", 1), true, 400},
		{strings.Replace(ok, "Content-Length: 4", "Content-Length: 4\r\nContent-Length: 4", 1), true, 400},
		{strings.Replace(ok, "Content-Length: 4", "Content-Length: 40", 1), false, 0},
	}
	for _, tt := range tests {
		if code, _ := screenMessage([]byte(tt.msg), tt.datagram); code != tt.code {
			t.Errorf("%q: got %d, want %d", tt.msg, code, tt.code)
		}
	}
	reply := statelessReply([]byte("INVITE x SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:c@d>\r\ni: cid\r\nCSeq: 1 INVITE\r\n\r\n"), 400, "Bad Request")
	res, err := sip.ParseMessage(reply)
	if err != nil {
		t.Fatalf("%v\n%s", err, reply)
	}
	r := res.(*sip.Response)
	if r.StatusCode != 400 || r.CallID().Value() != "cid" || tagOf(r.To().Params) == "" || r.Via() == nil || r.CSeq().SeqNo != 1 {
		t.Fatalf("reply %s", reply)
	}
	if statelessReply([]byte("INVITE x SIP/2.0\r\nFrom: a\r\n\r\n"), 400, "x") != nil {
		t.Fatal("reply without Via")
	}
}

func TestSipgoLogHandler(t *testing.T) {
	var buf bytes.Buffer
	l := newSipgoLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Error("failed to parse", "data", "INVITE secret", "error", "bad")
	l.Info("some info")
	l.With("req", "INVITE secret").Error("Read connection error", "error", "x")
	l.Error("something real", "data", "secret payload", "error", "boom")
	out := buf.String()
	if strings.Contains(out, "secret") || strings.Contains(out, "failed to parse") || strings.Contains(out, "some info") ||
		strings.Contains(out, "Read connection error") || !strings.Contains(out, "something real") {
		t.Fatalf("log output:\n%s", out)
	}
	buf.Reset()
	d := newSipgoLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	d.Error("failed to parse", "data", "INVITE secret")
	if out := buf.String(); !strings.Contains(out, "level=DEBUG") || strings.Contains(out, "secret") {
		t.Fatalf("debug output:\n%s", out)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := NewAgent(Config{ListenAddr: "nohost:abc", SessionExpires: 10 * time.Second, NoAnswerTimeout: -1,
		Trunks:         []Trunk{{Transport: "tls"}, {Proxy: ":5060"}},
		AllowedSources: []netip.Prefix{{}}, RetryAfter: -1, InviteRateLimit: RateLimit{Burst: 3},
		InboundAuth: &InboundAuth{Algorithms: []string{"SHA-512"}}, TLSAddr: "127.0.0.1:0", SRTP: SRTPOptional})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want ConfigError, got %v", err)
	}
	for _, f := range []string{"ListenAddr", "SessionExpires", "NoAnswerTimeout", "Trunks[0].Transport", "Trunks[0]", "Trunks[1].Proxy",
		"AllowedSources[0]", "RetryAfter", "InviteRateLimit.Burst", "InboundAuth.Lookup", "InboundAuth.Algorithms",
		"TLSAddr", "SRTP"} {
		if !strings.Contains(err.Error(), "config "+f+":") {
			t.Errorf("missing %s in %v", f, err)
		}
	}
	a, err := NewAgent(Config{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.PublicHost != "127.0.0.1" || a.cfg.SessionExpires != 1800*time.Second || a.cfg.NoAnswerTimeout != time.Minute || a.cfg.UserAgent != "mediaserver" {
		t.Fatalf("defaults %+v", a.cfg)
	}
	if a.cfg.RetryAfter != 5*time.Second || a.limiter != nil || a.digest != nil || a.cfg.SRTP != SRTPOff || a.cfg.TLS != nil {
		t.Fatalf("security defaults %+v", a.cfg)
	}
	if _, err := a.Invite(context.Background(), InviteRequest{Target: "sip:x@127.0.0.1"}, newRecorder(t)); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Invite before Serve: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
}

func TestAgentLifecycle(t *testing.T) {
	a, err := NewAgent(Config{ListenAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ctx) }()
	select {
	case <-a.Ready():
	case <-time.After(waitTimeout):
		t.Fatal("not ready")
	}
	if a.UDPAddr().Port() == 0 || a.UDPAddr().Port() != a.TCPAddr().Port() {
		t.Fatalf("ports %v %v", a.UDPAddr(), a.TCPAddr())
	}
	if err := a.Serve(context.Background()); err == nil {
		t.Fatal("second Serve succeeded")
	}
	// A second agent cannot take the same port.
	b, _ := NewAgent(Config{ListenAddr: a.UDPAddr().String(), Logger: testLogger(t)})
	if err := b.Serve(context.Background()); err == nil || errors.Is(err, ErrClosed) {
		t.Fatalf("Serve on a taken port: %v", err)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Serve did not return")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Invite(context.Background(), InviteRequest{Target: "sip:x@127.0.0.1"}, newRecorder(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Invite after Close: %v", err)
	}
}

func TestServeReturnsWhenAListenerFails(t *testing.T) {
	a, err := NewAgent(Config{ListenAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(context.Background()) }()
	<-a.Ready()
	a.mu.Lock()
	udp := a.udpConn
	a.mu.Unlock()
	_ = udp.Close() // not through Close: the listener "fails"
	select {
	case err := <-errc:
		if !errors.Is(err, ErrTransport) {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Serve did not return")
	}
}

// TestPreprocessReceived: a request whose top Via names a host other than
// its source gets received=<source> (RFC 3261 §18.2.1), so that a new TCP
// connection for its response (when its own closed) goes to the source and
// never to a host the peer chose; a received the peer wrote itself is
// replaced, and a Via that already names the source is left alone.
func TestPreprocessReceived(t *testing.T) {
	a := &Agent{}
	parser := sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers()))
	for _, tc := range []struct {
		via, transport, src, want string
	}{
		{"SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKa", "TCP", "127.0.0.1:40000", "127.0.0.1"},
		{"SIP/2.0/TLS host.example.com;branch=z9hG4bKa", "TLS", "127.0.0.1:40000", "127.0.0.1"},
		{"SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKa;received=192.0.2.7", "TCP", "127.0.0.1:40000", "127.0.0.1"},
		{"SIP/2.0/UDP [::1]:5060;branch=z9hG4bKa", "UDP", "[::1]:40000", ""},
		{"SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKa", "TCP", "127.0.0.1:40000", ""},
	} {
		m, err := parser.ParseSIP([]byte("OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: " + tc.via +
			"\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*sip.Request)
		req.SetTransport(tc.transport)
		req.SetSource(tc.src)
		a.preprocess(req)
		got, _ := req.Via().Params.Get("received")
		if got != tc.want {
			t.Errorf("Via %q from %s: received %q, want %q", tc.via, tc.src, got, tc.want)
		}
	}
}

// TestStreamLaddr: TCP and TLS connections to an IP bind the unspecified
// address of its family (port 0), so the kernel gives them a port of
// their own; a host name leaves the choice to the dialer.
func TestStreamLaddr(t *testing.T) {
	for dest, want := range map[string]string{
		"127.0.0.1:5060":         "0.0.0.0",
		"10.1.2.3":               "0.0.0.0",
		"[::1]:5061":             "::",
		"[::ffff:10.0.0.1]:5060": "0.0.0.0",
		"[fe80::1%eth0]:5060":    "::",
		"pbx.example.com:5060":   "<nil>",
		"":                       "<nil>",
	} {
		got := streamLaddr(dest)
		if got.IP.String() != want || got.Port != 0 {
			t.Errorf("streamLaddr(%q) = %v port %d, want %s port 0", dest, got.IP, got.Port, want)
		}
	}
}
