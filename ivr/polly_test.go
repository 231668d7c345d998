package ivr

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/mediaserver-go/mediaserver/media"
)

// isolateAWS points the SDK at empty config files, so that the machine's
// own AWS setup cannot leak into a test.
func isolateAWS(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_POLLY", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
	}
}

// fakePolly is a local Polly SynthesizeSpeech endpoint that checks what
// it is asked and answers PCM.
type fakePolly struct {
	*httptest.Server
	mu   sync.Mutex
	last map[string]string
	auth string
	pcm  []int16
	fail bool
}

func newFakePolly(t *testing.T) *fakePolly {
	t.Helper()
	f := &fakePolly{pcm: tone(1000, 4000)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/speech" {
			t.Errorf("request %s %s, want POST /v1/speech", r.Method, r.URL.Path)
		}
		var body map[string]string
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		f.mu.Lock()
		f.last, f.auth = body, r.Header.Get("Authorization")
		fail := f.fail
		f.mu.Unlock()
		if fail {
			w.Header().Set("X-Amzn-ErrorType", "TextLengthExceededException")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"text too long"}`))
			return
		}
		w.Header().Set("Content-Type", "audio/pcm")
		out := make([]byte, 0, 2*len(f.pcm)+1)
		for _, s := range f.pcm {
			out = binary.LittleEndian.AppendUint16(out, uint16(s))
		}
		_, _ = w.Write(append(out, 0x7f)) // a stray odd byte is dropped
	}))
	t.Cleanup(f.Close)
	return f
}

func newTestPolly(t *testing.T, srv *fakePolly) *Polly {
	t.Helper()
	isolateAWS(t)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	p, err := NewPolly(t.Context(), PollyConfig{
		Region:       "eu-west-1",
		BaseEndpoint: srv.URL,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPollySynthesize(t *testing.T) {
	srv := newFakePolly(t)
	p := newTestPolly(t, srv)
	pr, err := p.Synthesize(t.Context(), TTSRequest{
		Text: "<speak>Hello</speak>", TextType: "ssml", Voice: "Kendra", Language: "en-US", Engine: "Neural",
	})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Frames() != 25 || media.ToneShare(pr.Samples()[:4000], 1000) < 0.99 {
		t.Errorf("%d frames, want the 0.5 s tone unchanged", pr.Frames())
	}
	srv.mu.Lock()
	got, auth := srv.last, srv.auth
	srv.mu.Unlock()
	want := map[string]string{
		"OutputFormat": "pcm", "SampleRate": "8000", "Text": "<speak>Hello</speak>", "TextType": "ssml",
		"VoiceId": "Kendra", "LanguageCode": "en-US", "Engine": "neural",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/eu-west-1/polly/") {
		t.Errorf("Authorization %q: not signed for polly in eu-west-1", auth)
	}
	// Defaults: text type and voice.
	if _, err := p.Synthesize(t.Context(), TTSRequest{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	got = srv.last
	srv.mu.Unlock()
	if got["TextType"] != "text" || got["VoiceId"] != "Joanna" || got["LanguageCode"] != "" || got["Engine"] != "" {
		t.Errorf("defaults: %v", got)
	}
}

func TestPollyErrors(t *testing.T) {
	srv := newFakePolly(t)
	p := newTestPolly(t, srv)
	if _, err := p.Synthesize(t.Context(), TTSRequest{Text: " "}); !errors.Is(err, ErrBadPhrase) {
		t.Errorf("blank: %v", err)
	}
	srv.mu.Lock()
	srv.fail = true
	srv.mu.Unlock()
	_, err := p.Synthesize(t.Context(), TTSRequest{Text: "x"})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "TextLengthExceededException" {
		t.Errorf("err %v, want the API error wrapped", err)
	}
	srv.mu.Lock()
	srv.fail = false
	srv.pcm = make([]int16, 1000)
	srv.mu.Unlock()
	p.cfg.MaxAudioBytes = 100
	if _, err := p.Synthesize(t.Context(), TTSRequest{Text: "x"}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized answer: %v", err)
	}
}

func TestNewPollyCredentials(t *testing.T) {
	isolateAWS(t)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	cfg := PollyConfig{getenv: getenv, Region: "us-east-1"}
	if _, err := NewPolly(t.Context(), cfg); !errors.Is(err, ErrEngineMissing) {
		t.Fatalf("no credentials: %v, want ErrEngineMissing", err)
	}
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "AKID", "secret"
	if _, err := NewPolly(t.Context(), cfg); err != nil {
		t.Errorf("env credentials: %v", err)
	}
	// A shared credentials file with keys in the selected profile.
	clear(env)
	file := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(file, []byte("[voice]\naws_access_key_id = AKID\naws_secret_access_key = secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["AWS_SHARED_CREDENTIALS_FILE"] = file
	if _, err := NewPolly(t.Context(), cfg); !errors.Is(err, ErrEngineMissing) {
		t.Errorf("keys in another profile: %v, want ErrEngineMissing", err)
	}
	env["AWS_PROFILE"] = "voice"
	if !credentialsVisible(t.Context(), getenv) {
		t.Error("keys in the selected profile not seen")
	}
	clear(env)
	cfg.UseInstanceRole = true
	if _, err := NewPolly(t.Context(), cfg); err != nil {
		t.Errorf("instance role: %v", err)
	}
}
