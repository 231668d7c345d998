package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Baresip describes a headless baresip user agent on 127.0.0.1 for
// StartBaresip (INTEROP.md §2).
type Baresip struct {
	// User is the account's user; baresip answers only INVITEs whose
	// Request-URI user is this. It also names the process and its folder
	// ua-User. Required.
	User string
	// Dir is the parent folder of ua-User. Required.
	Dir string
	// SIPPort is bound for UDP and TCP; baresip also binds SIPPort+1 (TCP,
	// TLS). Required.
	SIPPort uint16
	// CtrlPort is ctrl_tcp's TCP port. Required.
	CtrlPort uint16
	// RTPMin and RTPMax bound its RTP ports (it picks a random even one, RTCP
	// on the next). Required.
	RTPMin, RTPMax uint16
	// ToneHz is the microphone: an 8 kHz WAV of this tone at -13 dBFS played
	// by aufile. 0 is silence.
	ToneHz float64
	// MicLength is the length of the microphone WAV: aufile hangs up the call
	// at its end. Default 5 minutes.
	MicLength time.Duration
	// ManualAnswer makes it ring (CALL_INCOMING) and wait for "accept"
	// instead of answering at once.
	ManualAnswer bool
	// Lifetime is baresip's own limit (-t): it quits then, hanging up.
	// Default 2 minutes.
	Lifetime time.Duration
	// AuthPass, when set, is the account's digest password (its user is
	// User): baresip answers 401/407 challenges with it.
	AuthPass string
}

// UA is a running baresip.
type UA struct {
	// Proc is the baresip process; its log (with -s, every SIP message) is
	// printed when the test fails.
	Proc *Process
	// Ctrl is the ctrl_tcp connection, the only one (baresip sends events
	// to its newest connection only).
	Ctrl *Ctrl
	// Dir is its configuration folder; recordings go to Dir/rec.
	Dir string
	// URI is its SIP address, e.g. sip:bob@127.0.0.1:15100.
	URI string
}

// StartBaresip writes the configuration of b (config, accounts, the
// microphone WAV) and starts baresip with ctrl_tcp, aufile as microphone,
// sndfile recording what it sends and hears, and its SIP trace (-s) in the
// log. It returns once ctrl_tcp accepts a connection. It skips the test when
// baresip or its modules are not installed.
func StartBaresip(ctx context.Context, tb testing.TB, b Baresip) *UA {
	tb.Helper()
	path := RequireTool(tb, "baresip", "baresip")
	if b.User == "" || b.Dir == "" || b.SIPPort == 0 || b.CtrlPort == 0 || b.RTPMin == 0 || b.RTPMax < b.RTPMin {
		tb.Fatal("interop: Baresip needs User, Dir and its ports")
	}
	modules := baresipModulePath()
	if modules == "" {
		tb.Skip("baresip's ctrl_tcp.so module not found (Debian: apt-get install baresip)")
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
	ua.Proc = Start(ctx, tb, Command{
		Name: b.User,
		Dir:  b.Dir,
		Path: path,
		Args: []string{"-f", ua.Dir, "-s", "-t", itoa(int(b.Lifetime.Seconds()))},
	})
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() { // give up dialling when baresip dies, e.g. a port is taken (exit 98)
		select {
		case <-ua.Proc.Done():
			cancel()
		case <-dctx.Done():
		}
	}()
	ctrl, err := DialCtrl(dctx, fmt.Sprintf("127.0.0.1:%d", b.CtrlPort))
	if err != nil {
		tb.Fatalf("%s: %v", b.User, err)
	}
	ua.Ctrl = ctrl
	tb.Cleanup(func() { _ = ctrl.Close() })
	return ua
}

// writeBaresipConfig writes config, accounts and mic.wav into dir.
func writeBaresipConfig(dir, modules string, b Baresip) error {
	if err := os.MkdirAll(filepath.Join(dir, "rec"), 0o755); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	mic := filepath.Join(dir, "mic.wav")
	if err := WriteWAV(mic, Tone(b.ToneHz, 0.3, b.MicLength)); err != nil {
		return err
	}
	config := strings.Join([]string{
		fmt.Sprintf("sip_listen 127.0.0.1:%d", b.SIPPort),
		"net_interface 127.0.0.1",
		fmt.Sprintf("rtp_ports %d-%d", b.RTPMin, b.RTPMax),
		"audio_source aufile," + mic,
		"audio_player alsa,null",
		"audio_alert alsa,null",
		"module_path " + modules,
		"module g711.so",
		"module alsa.so",
		"module aufile.so",
		"module sndfile.so",
		"module ctrl_tcp.so",
		"module_tmp account.so",
		"module_app menu.so",
		fmt.Sprintf("ctrl_tcp_listen 127.0.0.1:%d", b.CtrlPort),
		"snd_path " + filepath.Join(dir, "rec"),
		"",
	}, "\n")
	answer := "auto"
	if b.ManualAnswer {
		answer = "manual"
	}
	account := fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;answermode=%s;audio_codecs=pcmu,pcma", b.User, b.SIPPort, answer)
	if b.AuthPass != "" {
		account += ";auth_pass=" + b.AuthPass
	}
	account += "\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o644); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	return nil
}

// baresipModulePath returns the folder of baresip's modules, or "".
func baresipModulePath() string {
	for _, pkg := range []string{"baresip-core", "baresip"} {
		out, err := exec.Command("dpkg", "-L", pkg).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(line, "/ctrl_tcp.so") {
				return filepath.Dir(line)
			}
		}
	}
	for _, dir := range []string{"/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules"} {
		if fileExists(filepath.Join(dir, "ctrl_tcp.so")) {
			return dir
		}
	}
	return ""
}

// Quit closes the ctrl_tcp connection first (so that the TIME_WAIT stays on
// our side and the next baresip can bind CtrlPort at once), then stops
// baresip with SIGTERM (it hangs up its calls and closes its recordings) and
// waits for it, killing it after grace. It returns the exit code.
func (ua *UA) Quit(grace time.Duration) int {
	_ = ua.Ctrl.Close()
	return ua.Proc.Stop(syscall.SIGTERM, grace)
}

// Recordings returns the WAV files sndfile wrote for the calls so far, as
// pairs in call order: what it heard (-dec.wav) and what it sent (-enc.wav).
func (ua *UA) Recordings() (heard, sent []string, err error) {
	heard, err = filepath.Glob(filepath.Join(ua.Dir, "rec", "*-dec.wav"))
	if err != nil {
		return nil, nil, err
	}
	sent, err = filepath.Glob(filepath.Join(ua.Dir, "rec", "*-enc.wav"))
	sort.Strings(heard)
	sort.Strings(sent)
	return heard, sent, err
}

// HeardSamples returns what it heard in its only call so far, from the
// -dec.wav recording: 8 kHz samples.
func (ua *UA) HeardSamples() ([]int16, error) {
	heard, _, err := ua.Recordings()
	if err != nil {
		return nil, err
	}
	if len(heard) != 1 {
		return nil, fmt.Errorf("interop: %s: %d -dec.wav recordings, want 1: %v", ua.Dir, len(heard), heard)
	}
	return ReadWAVMono(heard[0])
}
