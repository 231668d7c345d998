package ivr

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

func newTestEspeak(t *testing.T, cfg EspeakConfig) *Espeak {
	t.Helper()
	e, err := NewEspeak(cfg)
	if errors.Is(err, ErrEngineMissing) {
		t.Skip("espeak-ng is not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func speechRMS(p *media.Prompt) float64 {
	var e float64
	for _, s := range p.Samples() {
		e += float64(s) * float64(s)
	}
	return math.Sqrt(e / float64(max(len(p.Samples()), 1)))
}

func TestEspeakSpeaks(t *testing.T) {
	e := newTestEspeak(t, EspeakConfig{})
	owned := filepath.Join(t.TempDir(), "owned")
	tests := []TTSRequest{
		{Text: "Thank you for calling. Press one for sales."},
		{Text: "Välkommen", Language: "sv-SE"},
		{Text: "Hello", Voice: "Kendra", Language: "en-US"},
		{Text: "<speak>One <break time=\"500ms\"/> two</speak>", TextType: "ssml"},
		// Text that looks like options is spoken, never parsed.
		{Text: "--help"},
		{Text: "-v xx -w " + owned + " --stdout"},
		{Text: "$(touch " + owned + "); `touch " + owned + "`"},
	}
	for _, req := range tests {
		p, err := e.Synthesize(t.Context(), req)
		if err != nil {
			t.Errorf("%q: %v", req.Text, err)
			continue
		}
		if p.Duration() < 200*time.Millisecond || speechRMS(p) < 100 {
			t.Errorf("%q: %v of audio at rms %.0f: not speech", req.Text, p.Duration(), speechRMS(p))
		}
	}
	if _, err := os.Stat(owned); !os.IsNotExist(err) {
		t.Error("text reached a shell or espeak's options")
	}
}

func TestEspeakErrors(t *testing.T) {
	e := newTestEspeak(t, EspeakConfig{MaxTextBytes: 100})
	if _, err := e.Synthesize(t.Context(), TTSRequest{Text: "  "}); !errors.Is(err, ErrBadPhrase) {
		t.Errorf("blank text: %v", err)
	}
	if _, err := e.Synthesize(t.Context(), TTSRequest{Text: strings.Repeat("word ", 30)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("long text: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.Synthesize(ctx, TTSRequest{Text: "hello"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	small := newTestEspeak(t, EspeakConfig{MaxAudioBytes: 1000})
	if _, err := small.Synthesize(t.Context(), TTSRequest{Text: "a sentence longer than a thousand bytes of audio"}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("audio over the limit: %v", err)
	}
}

func TestNewEspeakMissing(t *testing.T) {
	_, err := NewEspeak(EspeakConfig{Binary: "espeak-ng-not-installed-here"})
	if !errors.Is(err, ErrEngineMissing) {
		t.Errorf("err %v, want ErrEngineMissing", err)
	}
	if _, err := NewEspeak(EspeakConfig{DefaultVoice: "-w /tmp/x"}); err == nil {
		t.Error("an unsafe default voice was accepted")
	}
}

func TestEspeakVoiceMapping(t *testing.T) {
	avail := map[string]bool{"en-us": true, "en-gb": true, "sv": true, "de": true, "fr-fr": true, "es-419": true, "es": true, "cmn": true}
	tests := []struct {
		req  TTSRequest
		want string
	}{
		{TTSRequest{}, "en-us"},
		{TTSRequest{Language: "en-US"}, "en-us"},
		{TTSRequest{Language: "en-GB"}, "en-gb"},
		{TTSRequest{Language: "sv-SE"}, "sv"},
		{TTSRequest{Language: "de-DE", Voice: "Hans"}, "de"},
		{TTSRequest{Language: "es-MX"}, "es-419"},
		{TTSRequest{Language: "es-ES"}, "es"},
		{TTSRequest{Language: "zh-CN"}, "cmn"},
		{TTSRequest{Language: "xx-YY"}, "en-us"},
		{TTSRequest{Voice: "Kendra"}, "en-us+f3"},
		{TTSRequest{Voice: "Astrid"}, "sv+f3"},
		{TTSRequest{Voice: "Brian"}, "en-gb"},
		{TTSRequest{Voice: "Joanna", Language: "fr-FR"}, "fr-fr+f3"},
		{TTSRequest{Voice: "de"}, "de"},
		{TTSRequest{Voice: "-w /etc/passwd"}, "en-us"},
		{TTSRequest{Language: "--stdout"}, "en-us"},
	}
	for _, tt := range tests {
		got := espeakVoice(tt.req, avail, "en-us")
		if got != tt.want {
			t.Errorf("%+v: voice %q, want %q", tt.req, got, tt.want)
		}
		if !validVoice(got) {
			t.Errorf("%+v: unsafe voice %q", tt.req, got)
		}
	}
	// Without espeak's list, only our own tables are trusted.
	if got := espeakVoice(TTSRequest{Language: "sv-SE"}, nil, "en-us"); got != "sv" {
		t.Errorf("sv-SE without a list: %q", got)
	}
	if got := espeakVoice(TTSRequest{Language: "x-evil"}, nil, "en-us"); got != "en-us" {
		t.Errorf("unknown language without a list: %q", got)
	}
}

func TestParseVoiceList(t *testing.T) {
	out, err := exec.Command("espeak-ng", "--voices").Output()
	if err != nil {
		t.Skip("espeak-ng is not installed")
	}
	v, err := parseVoiceList(out)
	if err != nil || !v["en-us"] || !v["sv"] || v["language"] {
		t.Errorf("parsed %d voices (%v)", len(v), err)
	}
	if _, err := parseVoiceList([]byte("Pty Language Age/Gender VoiceName\n")); err == nil {
		t.Error("an empty list parsed")
	}
}
