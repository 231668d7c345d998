package sip

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// FuzzAgent sends each input to a live agent, as a datagram or on a TCP
// connection of its own, so that sipgo's transport, parser and transaction
// layer run on it together with our screening and handlers. Invariants:
// the agent survives it (no panic on any of sipgo's goroutines), it still
// answers an OPTIONS from another socket with 200 within waitTimeout (no
// read loop stuck or starved), and whatever it sends back to the input's
// socket parses as a SIP response.
func FuzzAgent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(tortureDir, "*", "*.sip"))
	for _, file := range files {
		d, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		// Unique branches, or the TCP copy would be a retransmission of
		// the UDP one (RFC 3261 §17.2.3).
		f.Add(uniqueBranches(d), false)
		f.Add(uniqueBranches(d), true)
	}
	f.Add([]byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:alice@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n"), false)
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\nabcdeOPTIONS sip:y SIP/2.0\r\n\r\n"), true)

	a := startAgent(f, Config{OnInvite: tortureApp(), Logger: slog.New(slog.DiscardHandler)}, agentOpts{})
	agentUDP := net.UDPAddrFromAddrPort(a.UDPAddr())
	in, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { in.Close() })
	probe := fuzzPeer(f, a)
	// What comes back to the inputs' socket, checked by the next input (and
	// at the end). A reader of its own, so that checking never waits.
	replies := make(chan []byte, 1024)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		b := make([]byte, 65536)
		for {
			n, _, err := in.ReadFrom(b)
			if err != nil {
				return
			}
			select {
			case replies <- bytes.Clone(b[:n]):
			default: // the next check has enough to look at
			}
		}
	}()
	// The agent's own parser: its answers echo the request's headers, which
	// may be valid SIP that sipgo's strict parsers refuse.
	parser := sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers()))
	checkReply := func(t testing.TB, b []byte) {
		if msg, err := parser.ParseSIP(b); err != nil {
			t.Fatalf("the agent sent what does not parse (%v):\n%q", err, b)
		} else if _, ok := msg.(*sip.Response); !ok {
			t.Fatalf("the agent sent a request to a peer that never had a dialog:\n%s", b)
		}
	}
	checkReplies := func(t testing.TB) {
		for {
			select {
			case b := <-replies:
				checkReply(t, b)
			default:
				return
			}
		}
	}
	f.Cleanup(func() {
		in.Close()
		<-readerDone
		checkReplies(f)
	})
	buf := make([]byte, 65536)

	f.Fuzz(func(t *testing.T, data []byte, overTCP bool) {
		checkReplies(t)
		var tcp net.Conn
		if overTCP {
			c, err := net.DialTimeout("tcp", a.TCPAddr().String(), waitTimeout)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			tcp = c
			_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
			if _, err := c.Write(data); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("write: %v", err)
			}
		} else if len(data) > 0 && len(data) <= 65507 {
			if _, err := in.WriteTo(data, agentUDP); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		// The agent still answers, after the input (an input may name the
		// probe's port in its Via: pingAgent skips answers not its own).
		probe.t = t
		pingAgent(t, probe)
		if tcp == nil {
			return
		}
		// An answer on the input's connection, if one came by now, is a
		// response too (only its start is checked: a stream may hold
		// several), after any CRLF pongs to CRLFCRLF pings (RFC 5626 §4.4.1).
		_ = tcp.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
		n, _ := io.ReadAtLeast(tcp, buf, len("SIP/2.0 100 "))
		if got := bytes.TrimLeft(buf[:n], "\r\n"); len(got) > 0 && !sipStatusLine.Match(got) {
			t.Fatalf("the agent answered on the TCP connection with:\n%q", buf[:n])
		}
	})
}

var sipStatusLine = regexp.MustCompile(`^SIP/2\.0 [1-6][0-9][0-9] `)
