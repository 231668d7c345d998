package ivr

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/polly"
	"github.com/aws/aws-sdk-go-v2/service/polly/types"

	"github.com/mediaserver-go/mediaserver/media"
)

// PollyConfig configures the Amazon Polly engine. The zero value uses the
// AWS SDK's default configuration (environment, shared config files).
type PollyConfig struct {
	// Region is the AWS region. Default: the SDK's configuration, else
	// "us-east-1".
	Region string
	// BaseEndpoint replaces Polly's endpoint URL (a VPC endpoint, or a
	// fake server in tests).
	BaseEndpoint string
	// Credentials, when set, are used instead of the SDK's default chain.
	Credentials aws.CredentialsProvider
	// UseInstanceRole trusts the default chain even when no credentials
	// are visible locally: on EC2 or ECS with a role, the credentials
	// come from the instance metadata service, which NewPolly does not
	// call.
	UseInstanceRole bool
	// HTTPClient makes the requests. Default: the SDK's client.
	HTTPClient *http.Client
	// DefaultVoice is the VoiceId of requests that name none (Polly
	// requires one). Default "Joanna".
	DefaultVoice string
	// Timeout bounds one request. Default 15 s.
	Timeout time.Duration
	// MaxAudioBytes bounds the audio of one answer (ErrTooLarge beyond).
	// Default 16 MiB (about 17 minutes at 8 kHz).
	MaxAudioBytes int64

	getenv func(string) string // tests; default os.Getenv
}

// Polly is the Amazon Polly engine for awstts phrases: SynthesizeSpeech
// with OutputFormat "pcm" and SampleRate "8000" (decision 22), so the
// answer is 16-bit signed little-endian mono PCM at 8 kHz, the internal
// format, with no resampling. VoiceId, LanguageCode, Engine and TextType
// come from the request. A Polly is safe for concurrent use; wrap it in a
// TTSCache (Library does).
type Polly struct {
	client *polly.Client
	cfg    PollyConfig
}

// NewPolly returns the engine when AWS credentials are configured: given
// in cfg, in the environment (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, a web identity token, container credentials),
// or in the selected profile of the shared config files (keys, a role,
// SSO, a credential process); or when cfg.UseInstanceRole is set. It
// makes no network call. Without credentials it returns an error
// wrapping ErrEngineMissing: callers then use the local engine.
func NewPolly(ctx context.Context, cfg PollyConfig) (*Polly, error) {
	if cfg.DefaultVoice == "" {
		cfg.DefaultVoice = "Joanna"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxAudioBytes <= 0 {
		cfg.MaxAudioBytes = 16 << 20
	}
	if cfg.getenv == nil {
		cfg.getenv = os.Getenv
	}
	if !cfg.UseInstanceRole && cfg.Credentials == nil && !credentialsVisible(ctx, cfg.getenv) {
		return nil, fmt.Errorf("%w: polly: no AWS credentials configured", ErrEngineMissing)
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("ivr: polly: aws config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := polly.NewFromConfig(awsCfg, func(o *polly.Options) {
		if cfg.BaseEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.BaseEndpoint)
		}
		if cfg.HTTPClient != nil {
			// Set here rather than in LoadDefaultConfig, which refuses a
			// plain *http.Client when AWS_CA_BUNDLE is set.
			o.HTTPClient = cfg.HTTPClient
		}
	})
	return &Polly{client: client, cfg: cfg}, nil
}

// credentialsVisible reports whether the SDK's default chain would find
// credentials without asking the instance metadata service.
func credentialsVisible(ctx context.Context, getenv func(string) string) bool {
	switch {
	case getenv("AWS_ACCESS_KEY_ID") != "" && getenv("AWS_SECRET_ACCESS_KEY") != "",
		getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" && getenv("AWS_ROLE_ARN") != "",
		getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "",
		getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "":
		return true
	}
	profile := getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		if f := getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
			o.CredentialsFiles = []string{f}
		}
		if f := getenv("AWS_CONFIG_FILE"); f != "" {
			o.ConfigFiles = []string{f}
		}
	})
	if err != nil {
		return false
	}
	return sc.Credentials.HasKeys() || sc.RoleARN != "" || sc.CredentialProcess != "" ||
		sc.WebIdentityTokenFile != "" || sc.SSOSessionName != "" || sc.SSOAccountID != ""
}

// Synthesize asks Polly to speak req. It blocks until the answer is read,
// Timeout passes or ctx ends.
func (p *Polly) Synthesize(ctx context.Context, req TTSRequest) (*media.Prompt, error) {
	if strings.TrimSpace(req.Text) == "" {
		return nil, fmt.Errorf("ivr: polly: %w: no text", ErrBadPhrase)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	voice := req.Voice
	if voice == "" {
		voice = p.cfg.DefaultVoice
	}
	in := &polly.SynthesizeSpeechInput{
		OutputFormat: types.OutputFormatPcm,
		SampleRate:   aws.String("8000"),
		Text:         aws.String(req.Text),
		TextType:     types.TextTypeText,
		VoiceId:      types.VoiceId(voice),
	}
	if req.isSSML() {
		in.TextType = types.TextTypeSsml
	}
	if req.Language != "" {
		in.LanguageCode = types.LanguageCode(req.Language)
	}
	if req.Engine != "" {
		in.Engine = types.Engine(strings.ToLower(req.Engine))
	}
	out, err := p.client.SynthesizeSpeech(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("ivr: polly: %w", err)
	}
	defer out.AudioStream.Close()
	raw, err := io.ReadAll(io.LimitReader(out.AudioStream, p.cfg.MaxAudioBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ivr: polly: read audio: %w", err)
	}
	if int64(len(raw)) > p.cfg.MaxAudioBytes {
		return nil, fmt.Errorf("ivr: polly: %w: more than %d bytes of audio", ErrTooLarge, p.cfg.MaxAudioBytes)
	}
	pcm := make([]int16, len(raw)/2) // a stray odd byte is dropped
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return media.NewPrompt(pcm), nil
}
