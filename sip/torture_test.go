package sip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// tortureDir holds the RFC 4475 torture messages (testdata/rfc4475/SOURCES.md).
const tortureDir = "testdata/rfc4475"

// rawCallIDs returns the Call-IDs of a raw message (3.3.8 has two).
func rawCallIDs(msg []byte) map[string]bool {
	hdr := msg
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		hdr = msg[:i]
	}
	ids := map[string]bool{}
	headerLines(hdr, func(name, value string) {
		if name == "call-id" || name == "i" {
			ids[value] = true
		}
	})
	return ids
}

func tortureFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"wellformed", "malformed"} {
		m, err := filepath.Glob(filepath.Join(tortureDir, dir, "*.sip"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no RFC 4475 messages in " + tortureDir)
	}
	sort.Strings(files)
	return files
}

func optionsPing(host, agent, tp string) (string, string) {
	id := "ping-" + sip.GenerateTagN(10)
	return id, fmt.Sprintf("OPTIONS sip:ping@%s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:t@%s>;tag=%s\r\nTo: <sip:ping@%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		agent, tp, host, sip.GenerateTagN(8), host, sip.GenerateTagN(6), agent, id)
}

// tortureExpect is the final status each RFC 4475 message gets: 0 means no
// answer, which only responses (nothing to answer) and messages that
// cannot be framed at all may get. Well-formed INVITEs reach OnInvite,
// whose test application rejects them with 404.
var tortureExpect = map[string]int{
	// wellformed
	"3.1.1.10_transports.sip": 200,
	"3.1.1.12_unreason.sip":   0, // a response
	"3.1.1.13_noreason.sip":   0, // a response
	"3.1.1.1_wsinv.sip":       404,
	"3.1.1.2_intmeth.sip":     501,
	"3.1.1.3_esc01.sip":       404,
	"3.1.1.4_escnull.sip":     405, // REGISTER
	"3.1.1.5_esc02.sip":       501, // RE%47IST%45R is not REGISTER
	"3.1.1.6_lwsdisp.sip":     200,
	"3.1.1.7_longreq.sip":     404,
	"3.1.1.8_dblreq.sip":      405,
	"3.1.1.9_semiuri.sip":     200,
	"3.3.10_bcast.sip":        0, // a response
	"3.3.11_zeromf.sip":       200,
	"3.3.12_cparam01.sip":     405,
	"3.3.13_cparam02.sip":     405,
	"3.3.14_regescrt.sip":     405,
	"3.3.2_unkscm.sip":        416,
	"3.3.3_novelsc.sip":       416,
	"3.3.7_regaut01.sip":      405,
	"3.4.1_inv2543.sip":       404,
	// malformed
	"3.1.2.10_trws.sip":       400,
	"3.1.2.11_escruri.sip":    400,
	"3.1.2.12_baddate.sip":    404, // a bad Date is no reason to refuse
	"3.1.2.13_regbadct.sip":   405, // REGISTER: the method is refused first (RFC 3261 §8.2.1)
	"3.1.2.14_badaspec.sip":   400,
	"3.1.2.15_baddn.sip":      200, // tolerated: the display name parses
	"3.1.2.16_badvers.sip":    505,
	"3.1.2.17_mismatch01.sip": 400,
	"3.1.2.18_mismatch02.sip": 400,
	"3.1.2.19_bigcode.sip":    0, // a response
	"3.1.2.1_badinv01.sip":    400,
	"3.1.2.2_clerr.sip":       400,
	"3.1.2.3_ncl.sip":         400,
	"3.1.2.4_scalar02.sip":    400,
	"3.1.2.5_scalarlg.sip":    0, // a response
	"3.1.2.6_quotbal.sip":     400,
	"3.1.2.7_ltgtruri.sip":    400,
	"3.1.2.8_lwsruri.sip":     400,
	"3.1.2.9_lwsstart.sip":    400,
	"3.2.1_badbranch.sip":     200,
	"3.3.15_sdp01.sip":        406,
	"3.3.1_insuf.sip":         400,
	"3.3.4_unksm2.sip":        405,
	"3.3.5_bext01.sip":        420,
	"3.3.6_invut.sip":         415,
	"3.3.8_multi01.sip":       400,
	"3.3.9_mcl01.sip":         400,
}

// tortureExpectTCP lists where TCP differs: a stream cannot frame a message
// without the empty line that ends its headers, nor one whose length is
// unknown.
var tortureExpectTCP = map[string]int{
	"3.1.2.15_baddn.sip": 0,   // the file has no empty line: the message never ends
	"3.1.2.2_clerr.sip":  0,   // Content-Length 9999: the body never ends
	"3.4.1_inv2543.sip":  400, // no Content-Length, which a stream requires (RFC 3261 §18.3)
}

// uniqueBranches makes the RFC 3261 branches of a torture message unique:
// several files share branch and sent-by, and sent back to back to one
// agent they would match each other's transactions (RFC 3261 §17.2.3). A
// bare magic cookie (3.2.1 badbranch) is left alone.
func uniqueBranches(msg []byte) []byte {
	return branchRe.ReplaceAllFunc(msg, func(m []byte) []byte {
		return append([]byte(";branch=z9hG4bK"+sip.GenerateTagN(6)), m[len(";branch=z9hG4bK"):]...)
	})
}

var branchRe = regexp.MustCompile(`;branch=z9hG4bK[^\s;,]+`)

func tortureApp() func(c *InboundCall) DialogHandler {
	return func(c *InboundCall) DialogHandler {
		_ = c.Reject(404, "")
		return nil
	}
}

func TestTortureUDP(t *testing.T) {
	a := startAgent(t, Config{OnInvite: tortureApp()}, agentOpts{})
	p := newUDPPeer(t, a)
	got := map[string]int{}
	for _, f := range tortureFiles(t) {
		name := filepath.Base(f)
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg = uniqueBranches(msg)
		want, known := tortureExpect[name]
		ids := rawCallIDs(msg)
		t.Logf("UDP %s", name)
		p.sendRaw(string(msg))
		// The OPTIONS after it must be answered; then wait for the
		// message's own answer, or (none expected) one more round trip.
		pingID, ping := optionsPing(p.host, p.agentHost(), "UDP")
		p.sendRaw(ping)
		status, pinged := 0, false
		for !pinged || (status == 0 && want != 0) {
			res := p.response(true)
			switch res.CallID() {
			case nil:
				status = res.StatusCode
			default:
				switch res.CallID().Value() {
				case pingID:
					if res.StatusCode != 200 {
						t.Fatalf("%s: OPTIONS after it got %d", name, res.StatusCode)
					}
					pinged = true
				default:
					if ids[res.CallID().Value()] {
						status = res.StatusCode
					}
				}
			}
		}
		if want == 0 {
			pingID2, ping2 := optionsPing(p.host, p.agentHost(), "UDP")
			p.sendRaw(ping2)
			for {
				res := p.response(true)
				if res.CallID() != nil && res.CallID().Value() == pingID2 {
					break
				}
				if res.CallID() == nil || ids[res.CallID().Value()] {
					status = res.StatusCode
				}
			}
		}
		got[name] = status
		if !known || status != want {
			t.Errorf("UDP %s: got %d, want %d", name, status, want)
		}
	}
	t.Logf("UDP statuses: %v", got)
}

func TestTortureTCP(t *testing.T) {
	a := startAgent(t, Config{OnInvite: tortureApp()}, agentOpts{})
	got := map[string]int{}
	for _, f := range tortureFiles(t) {
		name := filepath.Base(f)
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg = uniqueBranches(msg)
		want, known := tortureExpect[name]
		if w, ok := tortureExpectTCP[name]; ok {
			want = w
		}
		status := tcpTorture(t, a, msg, rawCallIDs(msg), want)
		got[name] = status
		if !known || status != want {
			t.Errorf("TCP %s: got %d, want %d", name, status, want)
		}
		// A new connection is served.
		p := newTCPPeer(t, a)
		id, ping := optionsPing(p.host, p.agentHost(), "TCP")
		p.sendRaw(ping)
		if res := p.expect(200); res.CallID().Value() != id {
			t.Fatalf("%s: ping answered for %s", name, res.CallID().Value())
		}
		p.close()
	}
	t.Logf("TCP statuses: %v", got)
}

// tcpTorture sends msg on a new connection and returns the final status it
// gets. When none is expected, it half-closes and reads until the agent
// closes the connection.
func tcpTorture(t *testing.T, a *Agent, msg []byte, ids map[string]bool, want int) int {
	t.Helper()
	conn, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	if want == 0 {
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	stream := sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers())).NewSIPStream()
	buf := make([]byte, 65535)
	status := 0
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			_ = stream.ParseSIPStream(buf[:n], func(m sip.Message) {
				if res, ok := m.(*sip.Response); ok && res.StatusCode > 100 && status == 0 {
					if res.CallID() == nil || ids[res.CallID().Value()] {
						status = res.StatusCode
					}
				}
			})
		}
		if status != 0 && want != 0 {
			return status
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
				t.Errorf("read: %v", err)
			}
			return status
		}
	}
}
