package sip

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a process's output for the test to read.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePortPair returns a port p with p and p+1 free for UDP and TCP
// (baresip binds its TLS transport on sip_listen's port + 1).
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p > 65000 {
			continue
		}
		ok := true
		for _, port := range []int{p, p + 1} {
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			tl, err1 := net.Listen("tcp", addr)
			ul, err2 := net.ListenPacket("udp", addr)
			if tl != nil {
				_ = tl.Close()
			}
			if ul != nil {
				_ = ul.Close()
			}
			ok = ok && err1 == nil && err2 == nil
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// writeSilenceWAV writes d of 8 kHz 16-bit mono silence.
func writeSilenceWAV(path string, d time.Duration) error {
	n := int(d.Seconds() * 8000)
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(2*n))
	b.Write(make([]byte, 2*n))
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// TestBaresipTLSSRTP: baresip calls the agent over TLS with SDES-SRTP
// mandatory (mediaenc=srtp-mand), the agent answers with its key, and its
// BYE reaches baresip over the same TLS connection. Skipped without
// baresip and its srtp module.
func TestBaresipTLSSRTP(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test")
	}
	bin, err := exec.LookPath("baresip")
	if err != nil {
		t.Skip("baresip not installed")
	}
	modules := ""
	for _, dir := range []string{"/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules"} {
		if _, err := os.Stat(filepath.Join(dir, "srtp.so")); err == nil {
			modules = dir
			break
		}
	}
	if modules == "" {
		t.Skip("baresip's srtp.so module not found")
	}
	ca := newTestCA(t)
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite, TLS: ca.config(), TLSAddr: "127.0.0.1:0", SRTP: SRTPRequired}, agentOpts{})

	dir := t.TempDir()
	caFile, mic := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "mic.wav")
	if err := os.WriteFile(caFile, ca.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSilenceWAV(mic, time.Minute); err != nil {
		t.Fatal(err)
	}
	port := freePortPair(t)
	config := strings.Join([]string{
		fmt.Sprintf("sip_listen 127.0.0.1:%d", port),
		"sip_cafile " + caFile,
		"net_interface 127.0.0.1",
		"rtp_ports 30000-39999",
		"audio_source aufile," + mic,
		"audio_player aufile,/dev/null",
		"audio_alert aufile,/dev/null",
		"module_path " + modules,
		"module g711.so", "module aufile.so", "module srtp.so",
		"module_tmp account.so", "module_app menu.so", "",
	}, "\n")
	account := fmt.Sprintf("<sip:alice@127.0.0.1:%d>;regint=0;answermode=auto;audio_codecs=pcmu;mediaenc=srtp-mand\n", port)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o644); err != nil {
		t.Fatal(err)
	}
	target := fmt.Sprintf("sip:bob@%s;transport=tls", a.TLSAddr())
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", dir, "-s", "-t", "50", "-e", "/dial "+target)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("baresip output:\n%s", out.String())
		}
	}()

	var c *InboundCall
	select {
	case c = <-app.calls:
	case <-exited:
		t.Fatal("baresip exited before calling")
	case <-time.After(30 * time.Second):
		t.Fatal("no call from baresip")
	}
	app.rec.expect("ack")
	c.c.mu.Lock()
	m := c.c.remote
	c.c.mu.Unlock()
	if c.Transport() != "TLS" || m.SRTP == nil || len(m.SRTP.Remote) != srtpKeyLen || len(m.SRTP.Local) != srtpKeyLen {
		t.Fatalf("call over %s, SRTP %+v", c.Transport(), m.SRTP)
	}
	t.Logf("baresip offered SRTP, suite %s", m.SRTP.Suite)
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "baresip to take our BYE", func() bool {
		o := out.String()
		i := strings.Index(o, "BYE sip:")
		return i >= 0 && strings.Contains(o[i:], "SIP/2.0 200 OK")
	})
}
