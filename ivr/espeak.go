package ivr

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// EspeakConfig configures the espeak-ng engine. The zero value is ready
// to use.
type EspeakConfig struct {
	// Binary is the espeak-ng program, a name looked up in PATH or a
	// path. Default "espeak-ng".
	Binary string
	// DefaultVoice is the espeak voice for requests that name no language
	// or voice it knows. Default "en-us".
	DefaultVoice string
	// Speed is the speaking rate in words per minute; 0 keeps espeak's
	// default (175).
	Speed int
	// Timeout bounds one synthesis. Default 30 s.
	Timeout time.Duration
	// MaxTextBytes bounds the text of one request (ErrTooLarge beyond).
	// Default 16 KiB.
	MaxTextBytes int
	// MaxAudioBytes bounds the WAV espeak-ng writes (ErrTooLarge beyond,
	// and the process is killed). Default 64 MiB (about 25 minutes).
	MaxAudioBytes int64
}

// Espeak is the local TTS engine: it runs the espeak-ng command (Debian
// package espeak-ng) once per request through exec.CommandContext, text
// on standard input (never in the arguments: no shell and no option
// injection whatever the text), WAV on standard output, decoded with
// media.DecodeWAV and resampled to 8 kHz. TextType "ssml" turns on
// espeak's markup mode (-m).
//
// Voices: the Language of the request (BCP 47, "en-US", "sv-SE") picks
// the espeak voice of that language and region when espeak-ng has one
// ("en-us"), else of the language ("sv"). A well-known Polly VoiceId
// ("Joanna", "Hans", ...) gives its language when the request has none,
// and its gender (espeak's female variant). Only voices that espeak-ng
// lists, or DefaultVoice, ever reach its command line.
//
// An Espeak is safe for concurrent use; wrap it in a TTSCache (Library
// does) so that repeated prompts are not synthesized again.
type Espeak struct {
	bin string
	cfg EspeakConfig

	mu     sync.Mutex      // guards voices
	voices map[string]bool // languages espeak-ng lists; nil until listed
}

// NewEspeak returns the engine, or an error wrapping ErrEngineMissing
// when the espeak-ng binary is not installed. It runs nothing.
func NewEspeak(cfg EspeakConfig) (*Espeak, error) {
	if cfg.Binary == "" {
		cfg.Binary = "espeak-ng"
	}
	if cfg.DefaultVoice == "" {
		cfg.DefaultVoice = "en-us"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxTextBytes <= 0 {
		cfg.MaxTextBytes = 16 << 10
	}
	if cfg.MaxAudioBytes <= 0 {
		cfg.MaxAudioBytes = 64 << 20
	}
	if !validVoice(cfg.DefaultVoice) {
		return nil, fmt.Errorf("ivr: espeak: invalid default voice %q", cfg.DefaultVoice)
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: espeak-ng: %w", ErrEngineMissing, err)
	}
	return &Espeak{bin: bin, cfg: cfg}, nil
}

// Synthesize speaks req.Text. It blocks until espeak-ng ends, Timeout
// passes or ctx ends (the process is killed then).
func (e *Espeak) Synthesize(ctx context.Context, req TTSRequest) (*media.Prompt, error) {
	if strings.TrimSpace(req.Text) == "" {
		return nil, fmt.Errorf("ivr: espeak: %w: no text", ErrBadPhrase)
	}
	if len(req.Text) > e.cfg.MaxTextBytes {
		return nil, fmt.Errorf("ivr: espeak: %w: text of %d bytes, limit %d", ErrTooLarge, len(req.Text), e.cfg.MaxTextBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	args := []string{"--stdout", "-v", e.voice(ctx, req)}
	if e.cfg.Speed > 0 {
		args = append(args, "-s", strconv.Itoa(e.cfg.Speed))
	}
	if req.isSSML() {
		args = append(args, "-m")
	}
	args = append(args, "--stdin")
	wav, err := e.run(ctx, args, req.Text)
	if err != nil {
		return nil, err
	}
	pcm, err := media.DecodeWAV(wav)
	if err != nil {
		return nil, fmt.Errorf("ivr: espeak: output: %w", err)
	}
	return media.NewPrompt(pcm), nil
}

// run runs espeak-ng with args and text on stdin and returns its stdout.
func (e *Espeak) run(ctx context.Context, args []string, text string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Stdin = strings.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 1024}
	cmd.WaitDelay = time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ivr: espeak: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: espeak-ng: %w", ErrEngineMissing, err)
	}
	out, rerr := io.ReadAll(io.LimitReader(stdout, e.cfg.MaxAudioBytes+1))
	tooLarge := int64(len(out)) > e.cfg.MaxAudioBytes
	if tooLarge || rerr != nil {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("ivr: espeak: %w", ctx.Err())
	case tooLarge:
		return nil, fmt.Errorf("ivr: espeak: %w: more than %d bytes of audio", ErrTooLarge, e.cfg.MaxAudioBytes)
	case rerr != nil:
		return nil, fmt.Errorf("ivr: espeak: read output: %w", rerr)
	case werr != nil:
		return nil, fmt.Errorf("ivr: espeak: %w: %s", werr, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// limitedWriter keeps the first n bytes written to it and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(l.n, len(p))
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// voice picks the espeak voice for req (see Espeak).
func (e *Espeak) voice(ctx context.Context, req TTSRequest) string {
	return espeakVoice(req, e.listVoices(ctx), e.cfg.DefaultVoice)
}

// listVoices returns the languages espeak-ng has, listing them once. A
// failed listing returns nil and is retried next time.
func (e *Espeak) listVoices(ctx context.Context) map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.voices != nil {
		return e.voices
	}
	out, err := exec.CommandContext(ctx, e.bin, "--voices").Output()
	if err != nil {
		return nil
	}
	voices, err := parseVoiceList(out)
	if err != nil {
		return nil
	}
	e.voices = voices
	return voices
}

// parseVoiceList reads the Language column of "espeak-ng --voices".
func parseVoiceList(out []byte) (map[string]bool, error) {
	voices := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] == "Pty" {
			continue
		}
		voices[strings.ToLower(f[1])] = true
	}
	if len(voices) == 0 {
		return nil, errors.New("no voices listed")
	}
	return voices, nil
}

// pollyVoice is the language and gender of a well-known Polly voice.
type pollyVoice struct {
	lang   string
	female bool
}

// pollyVoices maps common Polly VoiceIds to a language and gender, so
// that a phrase written for Polly sounds roughly alike on espeak-ng.
var pollyVoices = map[string]pollyVoice{
	"ivy": {"en-us", true}, "joanna": {"en-us", true}, "kendra": {"en-us", true},
	"kimberly": {"en-us", true}, "salli": {"en-us", true}, "ruth": {"en-us", true},
	"danielle": {"en-us", true}, "joey": {"en-us", false}, "justin": {"en-us", false},
	"kevin": {"en-us", false}, "matthew": {"en-us", false}, "stephen": {"en-us", false},
	"gregory": {"en-us", false}, "amy": {"en-gb", true}, "emma": {"en-gb", true},
	"brian": {"en-gb", false}, "arthur": {"en-gb", false}, "nicole": {"en-au", true},
	"olivia": {"en-au", true}, "russell": {"en-au", false}, "raveena": {"en-in", true},
	"aditi": {"en-in", true}, "geraint": {"en-gb-x-gbcwmd", false},
	"astrid": {"sv", true}, "elin": {"sv", true}, "hans": {"de", false},
	"marlene": {"de", true}, "vicki": {"de", true}, "daniel": {"de", false},
	"celine": {"fr-fr", true}, "lea": {"fr-fr", true}, "mathieu": {"fr-fr", false},
	"remi": {"fr-fr", false}, "chantal": {"fr-ca", true}, "conchita": {"es", true},
	"lucia": {"es", true}, "enrique": {"es", false}, "sergio": {"es", false},
	"mia": {"es-419", true}, "lupe": {"es-419", true}, "penelope": {"es-419", true},
	"miguel": {"es-419", false}, "carla": {"it", true}, "bianca": {"it", true},
	"giorgio": {"it", false}, "adriano": {"it", false}, "camila": {"pt-br", true},
	"vitoria": {"pt-br", true}, "ricardo": {"pt-br", false}, "ines": {"pt", true},
	"cristiano": {"pt", false}, "lotte": {"nl", true}, "ruben": {"nl", false},
	"liv": {"nb", true}, "ida": {"nb", true}, "naja": {"da", true}, "mads": {"da", false},
	"suvi": {"fi", true}, "ewa": {"pl", true}, "maja": {"pl", true}, "jacek": {"pl", false},
	"jan": {"pl", false}, "tatyana": {"ru", true}, "maxim": {"ru", false},
	"filiz": {"tr", true}, "carmen": {"ro", true}, "dora": {"is", true},
	"karl": {"is", false}, "mizuki": {"ja", true}, "takumi": {"ja", false},
	"seoyeon": {"ko", true}, "zhiyu": {"cmn", true}, "zeina": {"ar", true},
	"hala": {"ar", true}, "gwyneth": {"cy", true},
}

// languageAliases maps BCP 47 codes to espeak voices where the names
// differ.
var languageAliases = map[string]string{
	"es-us": "es-419", "es-mx": "es-419", "zh-cn": "cmn", "cmn-cn": "cmn",
	"zh-tw": "cmn", "yue-cn": "yue", "arb": "ar", "ar-ae": "ar", "nb-no": "nb",
	"no": "nb", "cy-gb": "cy", "en-nz": "en-gb", "en-za": "en-gb", "en-ie": "en-gb",
	"en-au": "en-gb", "en-in": "en-gb", "fr-ca": "fr-fr", "de-at": "de", "de-ch": "de",
	"en-gb-wls": "en-gb-x-gbcwmd", "pt-pt": "pt",
}

// espeakVoice maps a request to an espeak voice: a language espeak-ng
// lists (avail; nil when unknown, then only our own tables are trusted)
// plus "+f3" for a female Polly voice.
func espeakVoice(req TTSRequest, avail map[string]bool, def string) string {
	pv, known := pollyVoices[strings.ToLower(req.Voice)]
	lang := strings.ToLower(strings.TrimSpace(req.Language))
	if lang == "" {
		lang = pv.lang
	}
	if lang == "" && !known && avail[strings.ToLower(req.Voice)] {
		lang = strings.ToLower(req.Voice) // an espeak language named as the voice
	}
	v := def
	if lang != "" {
		if found := matchLanguage(lang, avail); found != "" {
			v = found
		}
	}
	if known && pv.female {
		v += "+f3"
	}
	return v
}

// matchLanguage returns the espeak voice for a BCP 47 language code, or
// "" when espeak has none.
func matchLanguage(lang string, avail map[string]bool) string {
	has := func(v string) bool {
		if avail != nil {
			return avail[v]
		}
		return validVoice(v) && (knownEspeak[v] || v == languageAliases[lang])
	}
	for _, c := range []string{lang, languageAliases[lang], primaryTag(lang)} {
		if c != "" && has(c) {
			return c
		}
	}
	return ""
}

// knownEspeak are voices espeak-ng 1.51 has, trusted when it could not be
// asked for its list.
var knownEspeak = map[string]bool{
	"en-us": true, "en-gb": true, "en": true, "sv": true, "de": true, "fr-fr": true,
	"es": true, "es-419": true, "it": true, "pt": true, "pt-br": true, "nl": true,
	"nb": true, "da": true, "fi": true, "pl": true, "ru": true, "tr": true, "ja": true,
	"cmn": true, "ar": true, "cy": true, "is": true, "ro": true, "ko": true,
}

func primaryTag(lang string) string {
	if i := strings.IndexByte(lang, '-'); i > 0 {
		return lang[:i]
	}
	return lang
}

// validVoice reports whether v is safe on espeak's command line: lower
// case letters, digits and hyphens, an optional "+variant", and no
// leading hyphen.
func validVoice(v string) bool {
	if v == "" || len(v) > 64 || v[0] == '-' || v[0] == '+' {
		return false
	}
	for _, r := range v {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '+' {
			return false
		}
	}
	return true
}
