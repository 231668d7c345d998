package ivr

import (
	"errors"
	"strconv"
)

// Sentinel errors of the prompt store, the library and the TTS engines.
// Returned errors wrap one of these with detail; match them with
// errors.Is. Every error of Library.Load reads as one log line naming the
// phrase, so a caller can log it and skip the phrase.
var (
	// ErrBadName reports a prompt file name that is not a plain, safe
	// file name (see ValidName), or a recording name ending in .mp3.
	ErrBadName = errors.New("ivr: bad file name")

	// ErrNotFound reports a prompt file that does not exist.
	ErrNotFound = errors.New("ivr: prompt file not found")

	// ErrExists reports a recording whose file name is already taken.
	ErrExists = errors.New("ivr: file exists")

	// ErrTooLarge reports an upload, a prompt file, a download or a TTS
	// answer over its size limit.
	ErrTooLarge = errors.New("ivr: too large")

	// ErrUnsupportedFormat reports a phrase format that is not built:
	// anything but file, url and awstts (googletts, decision 23).
	ErrUnsupportedFormat = errors.New("ivr: unsupported phrase format")

	// ErrBadPhrase reports a phrase without what its format needs: no
	// fileName, url or text.
	ErrBadPhrase = errors.New("ivr: invalid phrase")

	// ErrEngineMissing reports a TTS engine that is not available: the
	// espeak-ng binary is not installed, or no engine is configured.
	ErrEngineMissing = errors.New("ivr: tts engine not available")

	// ErrNotAudio reports an HTTP answer that is not WAV or MP3 audio (an
	// HTML error page, JSON, ...).
	ErrNotAudio = errors.New("ivr: not audio")

	// ErrHTTPStatus is wrapped by *HTTPError: a fetch answered with a
	// status other than 200 or 304.
	ErrHTTPStatus = errors.New("ivr: unexpected http status")
)

// NameError reports a file name that ValidName or Store refuses. It wraps
// ErrBadName.
type NameError struct {
	Name   string // the name as given (quoted in Error)
	Reason string
}

// Error quotes the name (cut at 64 bytes) and says what is wrong with it.
func (e *NameError) Error() string {
	name := e.Name
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return "ivr: bad file name " + strconv.Quote(name) + ": " + e.Reason
}

// Unwrap returns ErrBadName.
func (e *NameError) Unwrap() error { return ErrBadName }

// HTTPError reports an HTTP answer with an unexpected status. It wraps
// ErrHTTPStatus.
type HTTPError struct {
	URL        string
	StatusCode int
}

// Error names the URL (without password) and the status.
func (e *HTTPError) Error() string {
	return "ivr: fetch " + e.URL + ": http status " + strconv.Itoa(e.StatusCode)
}

// Unwrap returns ErrHTTPStatus.
func (e *HTTPError) Unwrap() error { return ErrHTTPStatus }
