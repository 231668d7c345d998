// Command autoattendant is the auto-attendant of the SIP Mediaserver
// examples as an in-process Handler: greet with text-to-speech, collect one
// digit, 1 → sales, 2 → support, anything else → ask again up to three
// times, then hang up.
//
//	go run ./examples/autoattendant -demo
//	go run ./examples/autoattendant -sales sip:sales@192.0.2.10 -support sip:support@192.0.2.11 \
//	    -sip 0.0.0.0:5060 -public-ip 192.0.2.1
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mediaserver-go/mediaserver"
)

//go:embed prompts/*.wav
var bundled embed.FS

func main() {
	sales := flag.String("sales", "", "SIP address of sales (digit 1)")
	support := flag.String("support", "", "SIP address of support (digit 2)")
	sipAddr := flag.String("sip", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	publicIP := flag.String("public-ip", "", "IP advertised in SDP and Contact (default: the listen IP)")
	rtp := flag.String("rtp-ports", "20000-29999", "RTP port range")
	dataDir := flag.String("data-dir", "./data", "prompt files and recordings")
	demo := flag.Bool("demo", false, "run the whole flow with built-in test phones and exit")
	verbose := flag.Bool("v", false, "log the server's own messages")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *demo {
		err = runDemo(ctx, *verbose)
	} else {
		err = run(ctx, *sales, *support, *sipAddr, *publicIP, *rtp, *dataDir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "autoattendant:", err)
		os.Exit(1)
	}
}

// speech picks TTS when espeak-ng is installed (or Polly is configured),
// else installs the bundled WAVs into dataDir and plays them.
func speech(dataDir string) (string, error) {
	if _, err := exec.LookPath("espeak-ng"); err == nil || os.Getenv("AWS_ACCESS_KEY_ID") != "" {
		return "tts", nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", err
	}
	err := fs.WalkDir(bundled, "prompts", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := bundled.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dataDir, filepath.Base(path)), b, 0o640)
	})
	return "file", err
}

func run(ctx context.Context, sales, support, sipAddr, publicIP, rtpPorts, dataDir string) error {
	if sales == "" || support == "" {
		return errors.New("-sales and -support are required (or use -demo)")
	}
	var lo, hi int
	if _, err := fmt.Sscanf(rtpPorts, "%d-%d", &lo, &hi); err != nil {
		return fmt.Errorf("-rtp-ports %q: want MIN-MAX", rtpPorts)
	}
	mode, err := speech(dataDir)
	if err != nil {
		return err
	}
	h := &Attendant{Sales: sales, Support: support, Speech: mode,
		Log: func(f string, a ...any) { slog.Info(fmt.Sprintf(f, a...)) }}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: h, SIPAddr: sipAddr, PublicIP: publicIP, RTPPortMin: lo, RTPPortMax: hi, DataDir: dataDir,
	})
	if err != nil {
		return err
	}
	go func() {
		<-srv.Ready()
		slog.Info("auto-attendant ready", "sip", srv.SIPAddr().String(), "speech", mode)
	}()
	if err := srv.Serve(ctx); !errors.Is(err, mediaserver.ErrServerClosed) {
		return err
	}
	return nil
}
