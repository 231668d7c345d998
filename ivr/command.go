package ivr

import "time"

// Command is one IVR command (API.md §5.1) as the executor needs it. The
// root package converts the protocol's IvrCommand into it.
type Command struct {
	// Phrases are played in order.
	Phrases []Phrase
	// Dtmf, when not nil, collects digits; the result ends the command.
	Dtmf *Collect
	// BargeIn stops the phrases at the first digit.
	BargeIn bool
	// Background, when not nil, replaces the background prompt: audio
	// looped whenever no phrase plays (hold music). When nil the current
	// background continues.
	Background *Phrase
	// After is getIVRCommandAfter: a deadline counted from the end of the
	// phrases (decision 15).
	After time.Duration
	// Record, when not nil, records the caller after the phrases.
	Record *Record
	// Hangup ends the IVR once the command has been executed.
	Hangup bool
}

// Phrase is one piece of audio to play.
type Phrase struct {
	// Format is "file", "url" or "awstts".
	Format string
	// FileName names a prompt file (format file).
	FileName string
	// URL is an HTTP(S) URL of a WAV or MP3 file (format url).
	URL string
	// TTS is the text to speak (format awstts).
	TTS *TTSRequest
	// Repeat is how many times to play the phrase; 0 means once. A
	// background phrase loops forever.
	Repeat int
	// RepeatPause is the silence between repetitions.
	RepeatPause time.Duration
}

// Collect is DTMF collection (API.md §5.2). The zero value collects one
// digit (decision 15: "dtmf:{}" means maxDigits 1).
type Collect struct {
	// MaxDigits ends collection when this many digits were collected.
	// 0 means 1, unless TerminationKey is set, then up to 64.
	MaxDigits int
	// TerminationKey ends collection when pressed; it is not collected.
	TerminationKey byte
	// Timeout bounds the wait for the first digit, counted from the end of
	// the phrases. Default 10 s.
	Timeout time.Duration
	// InterDigitTimeout bounds the gap between digits. Default 5 s.
	InterDigitTimeout time.Duration
}

// Record records the caller into a WAV file in prompt storage.
type Record struct {
	// FileName is the file to create (".wav" is added when it has no
	// extension).
	FileName string
	// MaxDuration bounds the recording. Default 60 s.
	MaxDuration time.Duration
	// TerminationKey stops the recording when pressed.
	TerminationKey byte
	// SilenceTimeout stops the recording after this much silence; 0
	// disables it.
	SilenceTimeout time.Duration
	// Beep plays a short tone before recording starts.
	Beep bool
}

// Reasons a command ends, as the next getIvrCommand says (API.md §4.6).
const (
	ReasonCompleted   = "commandCompleted"
	ReasonDTMF        = "dtmf"
	ReasonTimer       = "timer"
	ReasonInterrupted = "interrupted"
)

// Reasons DTMF collection ends.
const (
	DtmfMaxDigits      = "maxDigits"
	DtmfTerminationKey = "terminationKey"
	DtmfTimeout        = "timeout"
)

// Reasons a recording ends.
const (
	RecordMaxDuration    = "maxDuration"
	RecordTerminationKey = "terminationKey"
	RecordSilence        = "silence"
	RecordHangup         = "hangup"
)

// Result is how a command ended.
type Result struct {
	// Reason is why the command ended: ReasonCompleted, ReasonDTMF,
	// ReasonTimer or ReasonInterrupted.
	Reason string
	// Digits and DigitsReason are the DTMF result when the command
	// collected digits.
	Digits       string
	DigitsReason string
	Collected    bool
	// Recording is the record result when the command recorded.
	Recording *RecordResult
	// Hangup is true when the command asked the IVR to leave.
	Hangup bool
}

// RecordResult describes a finished recording.
type RecordResult struct {
	FileName string
	Duration time.Duration
	Reason   string
}
