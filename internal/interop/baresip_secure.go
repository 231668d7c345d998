package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BaresipSecurity are the SIP over TLS and SRTP settings of a baresip
// started by StartSecureBaresip.
type BaresipSecurity struct {
	// CAFile is a PEM file of the certificate authorities baresip trusts
	// for TLS (sip_cafile), e.g. the test's CA. Required.
	CAFile string
	// MediaEnc is the account's media encryption (mediaenc=): "srtp-mand"
	// (the default: RTP/SAVP with SDES keys, plain calls refused), "srtp"
	// (SRTP offered, plain accepted) or "srtp-mandf" (RTP/SAVPF).
	MediaEnc string
}

// StartSecureBaresip is StartBaresip with SIP over TLS and SDES-SRTP: it
// loads baresip's srtp module, trusts sec.CAFile for TLS, and gives the
// account sec.MediaEnc. baresip listens for TLS on b.SIPPort+1 (without a
// certificate of its own it takes requests only on the connections it
// opened); dial TLS targets as "sip:user@host:port;transport=tls". It skips
// the test when baresip or its srtp module is not installed.
func StartSecureBaresip(ctx context.Context, tb testing.TB, b Baresip, sec BaresipSecurity) *UA {
	tb.Helper()
	path := RequireTool(tb, "baresip", "baresip")
	if b.User == "" || b.Dir == "" || b.SIPPort == 0 || b.CtrlPort == 0 || b.RTPMin == 0 || b.RTPMax < b.RTPMin || sec.CAFile == "" {
		tb.Fatal("interop: StartSecureBaresip needs User, Dir, its ports and a CAFile")
	}
	modules := baresipModulePath()
	if modules == "" {
		tb.Skip("baresip's ctrl_tcp.so module not found (Debian: apt-get install baresip)")
	}
	if !fileExists(filepath.Join(modules, "srtp.so")) {
		tb.Skip("baresip's srtp.so module not found (Debian: apt-get install baresip)")
	}
	if sec.MediaEnc == "" {
		sec.MediaEnc = "srtp-mand"
	}
	if b.MicLength <= 0 {
		b.MicLength = 5 * time.Minute
	}
	if b.Lifetime <= 0 {
		b.Lifetime = 2 * time.Minute
	}
	ua := &UA{Dir: filepath.Join(b.Dir, "ua-"+b.User), URI: fmt.Sprintf("sip:%s@127.0.0.1:%d", b.User, b.SIPPort)}
	if err := writeBaresipConfig(ua.Dir, modules, b); err != nil {
		tb.Fatal(err)
	}
	if err := secureBaresipConfig(ua.Dir, sec); err != nil {
		tb.Fatal(err)
	}
	ua.Proc = Start(ctx, tb, Command{
		Name: b.User,
		Dir:  b.Dir,
		Path: path,
		Args: []string{"-f", ua.Dir, "-s", "-t", itoa(int(b.Lifetime.Seconds()))},
	})
	dctx, cancel := ua.Proc.Context(ctx) // give up dialling when baresip dies, e.g. a port is taken (exit 98)
	defer cancel()
	dctx, cancelTimeout := context.WithTimeout(dctx, 30*time.Second)
	defer cancelTimeout()
	ctrl, err := DialCtrl(dctx, fmt.Sprintf("127.0.0.1:%d", b.CtrlPort))
	if err != nil {
		tb.Fatalf("%s: %v (%v)", b.User, err, context.Cause(dctx))
	}
	ua.Ctrl = ctrl
	tb.Cleanup(func() { _ = ctrl.Close() })
	return ua
}

// secureBaresipConfig adds TLS and SRTP to the config and accounts files
// that writeBaresipConfig wrote in dir.
func secureBaresipConfig(dir string, sec BaresipSecurity) error {
	if strings.ContainsAny(sec.MediaEnc, ";<> \t\r\n") {
		return fmt.Errorf("interop: MediaEnc %q", sec.MediaEnc)
	}
	configPath, accountsPath := filepath.Join(dir, "config"), filepath.Join(dir, "accounts")
	config, err := os.ReadFile(configPath)
	if err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	config = append(config, []byte("module srtp.so\nsip_cafile "+sec.CAFile+"\n")...)
	account, err := os.ReadFile(accountsPath)
	if err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	line := strings.TrimRight(string(account), "\n") + ";mediaenc=" + sec.MediaEnc + "\n"
	if err := os.WriteFile(configPath, config, 0o644); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	if err := os.WriteFile(accountsPath, []byte(line), 0o644); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	return nil
}
