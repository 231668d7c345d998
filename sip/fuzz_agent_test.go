package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
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
		f.Add(d, false)
		f.Add(d, true)
	}
	f.Add([]byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:alice@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n"), false)
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\nabcdeOPTIONS sip:y SIP/2.0\r\n\r\n"), true)

	a, err := NewAgent(Config{ListenAddr: "127.0.0.1:0", OnInvite: tortureApp(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	a.closeWait = 500 * time.Millisecond
	served := make(chan error, 1)
	go func() { served <- a.Serve(f.Context()) }()
	select {
	case <-a.Ready():
	case err := <-served:
		f.Fatalf("Serve: %v", err)
	}
	f.Cleanup(func() {
		if err := a.Close(); err != nil {
			f.Errorf("Close: %v", err)
		}
		<-served
	})
	agentUDP := net.UDPAddrFromAddrPort(a.UDPAddr())
	in, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { in.Close() })
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { probe.Close() })
	buf := make([]byte, 65536)

	f.Fuzz(func(t *testing.T, data []byte, overTCP bool) {
		// What came back to the previous inputs' socket meanwhile.
		for {
			_ = in.SetReadDeadline(time.Now())
			n, _, err := in.ReadFrom(buf)
			if err != nil {
				break
			}
			if msg, err := sip.ParseMessage(bytes.Clone(buf[:n])); err != nil {
				t.Fatalf("the agent sent what does not parse (%v):\n%q", err, buf[:n])
			} else if _, ok := msg.(*sip.Response); !ok {
				t.Fatalf("the agent sent a request to a peer that never had a dialog:\n%s", buf[:n])
			}
		}
		if overTCP {
			c, err := net.DialTimeout("tcp", a.TCPAddr().String(), waitTimeout)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
			if _, err := c.Write(data); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("write: %v", err)
			}
		} else if len(data) > 0 && len(data) <= 65507 {
			if _, err := in.WriteTo(data, agentUDP); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		host := probe.LocalAddr().String()
		id, ping := optionsPing(host, agentUDP.String(), "UDP")
		if _, err := probe.WriteTo([]byte(ping), agentUDP); err != nil {
			t.Fatalf("send OPTIONS: %v", err)
		}
		deadline := time.Now().Add(waitTimeout)
		for {
			_ = probe.SetReadDeadline(deadline)
			n, _, err := probe.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no answer to the OPTIONS after the input: %v", err)
			}
			msg, err := sip.ParseMessage(bytes.Clone(buf[:n]))
			if err != nil {
				t.Fatalf("the agent sent what does not parse (%v):\n%q", err, buf[:n])
			}
			// An input may name the probe's port in its Via: skip answers
			// that are not the probe's.
			if res, ok := msg.(*sip.Response); ok && res.CallID() != nil && res.CallID().Value() == id {
				if res.StatusCode != 200 {
					t.Fatalf("OPTIONS after the input got %d", res.StatusCode)
				}
				return
			}
		}
	})
}
