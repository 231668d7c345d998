package sip

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
)

// TestMain checks for goroutine leaks.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait of the tests; generous for a loaded CI.
const waitTimeout = 10 * time.Second

// testLogger logs to t when SIP_TEST_LOG is set, else discards.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SIP_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// fuzzPeer is a UDP peer that lives as long as a fuzz target's process
// (its t is set per input): unlike newUDPPeer's, its reader drops what the
// test does not read in time instead of blocking, so stray retransmissions
// between inputs can never wedge it.
func fuzzPeer(f *testing.F, a *Agent) *peer {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	p := &peer{udp: c, remote: net.UDPAddrFromAddrPort(a.UDPAddr()), msgs: make(chan sip.Message, 256),
		host: c.LocalAddr().String(), tp: "UDP"}
	p.wg.Go(func() {
		parser := sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers()))
		buf := make([]byte, 65535)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if m, err := parser.ParseSIP(append([]byte(nil), buf[:n]...)); err == nil {
				select {
				case p.msgs <- m:
				default:
				}
			}
		}
	})
	f.Cleanup(p.close)
	return p
}

// answerStray answers a request the agent sent that the test is not
// waiting for (an earlier call's BYE, a re-INVITE an input caused) with
// 200, so that the agent's transaction ends.
func answerStray(p *peer, m sip.Message) {
	if req, ok := m.(*sip.Request); ok && !req.IsAck() {
		_, _ = p.udp.WriteTo([]byte(sip.NewResponseFromRequest(req, 200, "OK", nil).String()), p.remote)
	}
}

// pingAgent sends an OPTIONS from the prober and waits for its 200
// (bounded).
func pingAgent(t *testing.T, p *peer) {
	t.Helper()
	id, ping := optionsPing(p.host, p.agentHost(), "UDP")
	p.sendRaw(ping)
	for {
		m := p.next()
		res, ok := m.(*sip.Response)
		if !ok {
			answerStray(p, m)
			continue
		}
		if res.CallID() != nil && res.CallID().Value() == id && res.StatusCode >= 200 {
			if res.StatusCode != 200 {
				t.Fatalf("OPTIONS got %d", res.StatusCode)
			}
			return
		}
	}
}

// agentOpts are the unexported knobs tests set before Serve.
type agentOpts struct {
	clk    clock
	t1, t2 time.Duration
}

// startAgent runs an agent on 127.0.0.1:0 until the test ends.
func startAgent(t testing.TB, cfg Config, opts agentOpts) *Agent {
	t.Helper()
	cfg.ListenAddr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	a, err := NewAgent(cfg)
	if err != nil {
		t.Fatalf("NewAgent: %v", err)
	}
	if opts.clk != nil {
		a.clk = opts.clk
	}
	if opts.t1 > 0 {
		a.t1 = opts.t1
	}
	if opts.t2 > 0 {
		a.t2 = opts.t2
	}
	a.closeWait = 500 * time.Millisecond
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(context.Background()) }()
	select {
	case <-a.Ready():
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("agent not ready")
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(waitTimeout):
			t.Error("Serve did not return")
		}
	})
	return a
}

// peer is a raw SIP endpoint on loopback that writes SIP text and reads
// parsed messages: UDP, or TCP over one connection.
type peer struct {
	t      *testing.T
	udp    net.PacketConn
	tcp    net.Conn
	remote net.Addr // the agent
	msgs   chan sip.Message
	host   string // our host:port for Via and Contact
	tp     string // "UDP" or "TCP"
	wg     sync.WaitGroup
}

func newUDPPeer(t *testing.T, a *Agent) *peer {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, udp: c, remote: net.UDPAddrFromAddrPort(a.UDPAddr()), msgs: make(chan sip.Message, 256),
		host: c.LocalAddr().String(), tp: "UDP"}
	p.wg.Add(1)
	go p.readUDP()
	t.Cleanup(p.close)
	return p
}

func newTCPPeer(t *testing.T, a *Agent) *peer {
	t.Helper()
	c, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, tcp: c, msgs: make(chan sip.Message, 256), host: c.LocalAddr().String(), tp: "TCP"}
	p.wg.Add(1)
	go p.readTCP()
	t.Cleanup(p.close)
	return p
}

func (p *peer) close() {
	if p.udp != nil {
		p.udp.Close()
	}
	if p.tcp != nil {
		p.tcp.Close()
	}
	p.wg.Wait()
}

func (p *peer) readUDP() {
	defer p.wg.Done()
	parser := sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers()))
	buf := make([]byte, 65535)
	for {
		n, _, err := p.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := parser.ParseSIP(append([]byte(nil), buf[:n]...))
		if err != nil {
			continue
		}
		p.msgs <- m
	}
}

func (p *peer) readTCP() {
	defer p.wg.Done()
	defer close(p.msgs)
	stream := sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers())).NewSIPStream()
	r := bufio.NewReader(p.tcp)
	buf := make([]byte, 65535)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if perr := stream.ParseSIPStream(buf[:n], func(m sip.Message) { p.msgs <- m }); perr != nil &&
				!errors.Is(perr, sip.ErrParseSipPartial) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// send writes one message; Content-Length is computed.
func (p *peer) send(start string, headers []string, body string) {
	p.t.Helper()
	var b strings.Builder
	b.WriteString(start + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	p.sendRaw(b.String())
}

func (p *peer) sendRaw(s string) {
	p.t.Helper()
	var err error
	if p.udp != nil {
		_, err = p.udp.WriteTo([]byte(s), p.remote)
	} else {
		_, err = p.tcp.Write([]byte(s))
	}
	if err != nil {
		p.t.Fatalf("peer send: %v", err)
	}
}

// next returns the next message, failing the test after waitTimeout.
func (p *peer) next() sip.Message {
	p.t.Helper()
	select {
	case m, ok := <-p.msgs:
		if !ok {
			p.t.Fatal("peer connection closed")
		}
		return m
	case <-time.After(waitTimeout):
		p.t.Fatal("peer: no message")
	}
	return nil
}

// response returns the next response, skipping 100 Trying when skip100.
func (p *peer) response(skip100 bool) *sip.Response {
	p.t.Helper()
	for {
		m := p.next()
		res, ok := m.(*sip.Response)
		if !ok {
			p.t.Fatalf("peer: want a response, got %s", m.(*sip.Request).StartLine())
		}
		if skip100 && res.StatusCode == 100 {
			continue
		}
		return res
	}
}

// expect returns the next response with code (skipping 100), failing on
// another.
func (p *peer) expect(code int) *sip.Response {
	p.t.Helper()
	res := p.response(code != 100)
	if res.StatusCode != code {
		p.t.Fatalf("peer: want %d, got %d %s", code, res.StatusCode, res.Reason)
	}
	return res
}

// request returns the next request, skipping responses.
func (p *peer) request() *sip.Request {
	p.t.Helper()
	for {
		if req, ok := p.next().(*sip.Request); ok {
			return req
		}
	}
}

// reply answers a request the agent sent, with extra headers and body.
func (p *peer) reply(req *sip.Request, code int, toTag string, headers []string, body string) {
	p.t.Helper()
	var hs []string
	for _, h := range req.GetHeaders("Via") {
		hs = append(hs, "Via: "+h.Value())
	}
	for _, h := range req.GetHeaders("Record-Route") {
		hs = append(hs, "Record-Route: "+h.Value())
	}
	to := req.To().Value()
	if toTag != "" && !strings.Contains(to, "tag=") {
		to += ";tag=" + toTag
	}
	hs = append(hs, "From: "+req.From().Value(), "To: "+to, "Call-ID: "+req.CallID().Value(), "CSeq: "+req.CSeq().Value())
	hs = append(hs, headers...)
	if body != "" {
		hs = append(hs, "Content-Type: application/sdp")
	}
	p.send(fmt.Sprintf("SIP/2.0 %d %s", code, reasonPhrase(code)), hs, body)
}

// dialog is the peer's side of a call it places to the agent.
type dialog struct {
	p       *peer
	callID  string
	fromTag string
	toTag   string
	cseq    int
	ruri    string
	// from the agent's 2xx
	contact string
}

func (p *peer) newDialog() *dialog {
	return &dialog{p: p, callID: sip.GenerateTagN(12) + "@test", fromTag: sip.GenerateTagN(8), cseq: 1,
		ruri: "sip:bob@" + p.agentHost()}
}

func (p *peer) agentHost() string {
	if p.udp != nil {
		return p.remote.String()
	}
	return p.tcp.RemoteAddr().String()
}

func (d *dialog) headers(method string, cseq int, branch string) []string {
	to := "<sip:bob@" + d.p.agentHost() + ">"
	if d.toTag != "" {
		to += ";tag=" + d.toTag
	}
	return []string{
		"Via: SIP/2.0/" + d.p.tp + " " + d.p.host + ";branch=" + branch,
		"Max-Forwards: 70",
		"From: \"Alice\" <sip:alice@" + d.p.host + ">;tag=" + d.fromTag,
		"To: " + to,
		"Call-ID: " + d.callID,
		fmt.Sprintf("CSeq: %d %s", cseq, method),
		"Contact: <sip:alice@" + d.p.host + ">",
	}
}

// req sends a request in the dialog with the next CSeq and returns its
// branch.
func (d *dialog) req(method, body string, extra ...string) string {
	if method != "ACK" && method != "CANCEL" {
		d.cseq++
	}
	branch := "z9hG4bK" + sip.GenerateTagN(10)
	h := append(d.headers(method, d.cseq, branch), extra...)
	if body != "" {
		h = append(h, "Content-Type: application/sdp")
	}
	d.p.send(method+" "+d.target()+" SIP/2.0", h, body)
	return branch
}

func (d *dialog) target() string {
	if d.contact != "" && d.toTag != "" {
		return d.contact
	}
	return d.ruri
}

// invite sends the initial INVITE (CSeq 1) and returns its branch.
func (d *dialog) invite(body string, extra ...string) string {
	branch := "z9hG4bK" + sip.GenerateTagN(10)
	h := append(d.headers("INVITE", d.cseq, branch), extra...)
	if body != "" {
		h = append(h, "Content-Type: application/sdp")
	}
	d.p.send("INVITE "+d.ruri+" SIP/2.0", h, body)
	return branch
}

// established records the agent's tag and Contact from its 2xx.
func (d *dialog) established(res *sip.Response) {
	d.toTag = tagOf(res.To().Params)
	if ct := res.Contact(); ct != nil {
		d.contact = ct.Address.String()
	}
}

// ack sends the ACK to the agent's 2xx to the INVITE with CSeq cseq.
func (d *dialog) ack(cseq int, body string) {
	branch := "z9hG4bK" + sip.GenerateTagN(10)
	h := d.headers("ACK", cseq, branch)
	if body != "" {
		h = append(h, "Content-Type: application/sdp")
	}
	d.p.send("ACK "+d.target()+" SIP/2.0", h, body)
}

// sdpOffer returns a typical phone offer.
func sdpOffer(port int, pts string, extra ...string) string {
	s := "v=0\r\no=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		fmt.Sprintf("m=audio %d RTP/AVP %s\r\n", port, pts)
	for _, e := range extra {
		s += e + "\r\n"
	}
	return s
}

// event is one DialogHandler/OutboundHandler call.
type event struct {
	kind   string
	media  Media
	early  *Media
	code   int
	digit  byte
	dur    time.Duration
	reason EndReason
	err    error
}

// recorder implements OutboundHandler and records events in order.
type recorder struct {
	t  *testing.T
	ch chan event
}

func newRecorder(t *testing.T) *recorder { return &recorder{t: t, ch: make(chan event, 64)} }

func (r *recorder) OnAck()                           { r.ch <- event{kind: "ack"} }
func (r *recorder) OnMedia(m Media)                  { r.ch <- event{kind: "media", media: m} }
func (r *recorder) OnDTMF(d byte, dur time.Duration) { r.ch <- event{kind: "dtmf", digit: d, dur: dur} }
func (r *recorder) OnEnd(reason EndReason)           { r.ch <- event{kind: "end", reason: reason} }
func (r *recorder) OnProgress(code int, early *Media) {
	r.ch <- event{kind: "progress", code: code, early: early}
}
func (r *recorder) OnAnswer(m Media)         { r.ch <- event{kind: "answer", media: m} }
func (r *recorder) OnFail(err error)         { r.ch <- event{kind: "fail", err: err} }
func (r *recorder) next() event              { return r.wait("") }
func (r *recorder) expect(kind string) event { return r.wait(kind) }
func (r *recorder) pending() int             { return len(r.ch) }
func (r *recorder) wait(kind string) event {
	r.t.Helper()
	select {
	case e := <-r.ch:
		if kind != "" && e.kind != kind {
			r.t.Fatalf("want event %q, got %+v", kind, e)
		}
		return e
	case <-time.After(waitTimeout):
		r.t.Fatalf("no event (want %q)", kind)
	}
	return event{}
}

// inboundApp is an OnInvite that hands each call to the test.
type inboundApp struct {
	calls chan *InboundCall
	rec   *recorder
	// onInvite, when set, runs inside OnInvite (e.g. to answer at once).
	onInvite func(c *InboundCall) DialogHandler
}

func newInboundApp(t *testing.T) *inboundApp {
	return &inboundApp{calls: make(chan *InboundCall, 16), rec: newRecorder(t)}
}

func (app *inboundApp) OnInvite(c *InboundCall) DialogHandler {
	if app.onInvite != nil {
		return app.onInvite(c)
	}
	app.calls <- c
	return app.rec
}

func (app *inboundApp) call(t *testing.T) *InboundCall {
	t.Helper()
	select {
	case c := <-app.calls:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no call")
	}
	return nil
}

// answerAll makes OnInvite negotiate on port 40000 and answer at once.
func answerAll(app *inboundApp) {
	app.onInvite = func(c *InboundCall) DialogHandler {
		if _, err := c.Negotiate(LocalMedia{Addr: mustAddr("127.0.0.1"), Port: 40000}); err != nil {
			_ = c.Reject(488, "")
			return nil
		}
		if err := c.Answer(); err != nil {
			panic(err)
		}
		app.calls <- c
		return app.rec
	}
}

// sdpLines returns the lines of an SDP body, sorted when sorted.
func sdpLines(body []byte, sorted bool) []string {
	lines := strings.Split(strings.TrimRight(string(body), "\r\n"), "\r\n")
	if sorted {
		sort.Strings(lines)
	}
	return lines
}

func hasLine(body []byte, line string) bool {
	for _, l := range sdpLines(body, false) {
		if l == line {
			return true
		}
	}
	return false
}

var _ = io.EOF
