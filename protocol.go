package mediaserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// The Go types of the protocol in ../shared/protocol/API.md. Their JSON
// names are exactly the protocol's, so the callback adapter translates
// without call logic. Callback request types end in Request; answers are
// Action and IvrCommand.

// Actions an application can answer a decision callback with (API.md §6).
const (
	ActionDrop                     = "drop"
	ActionCall                     = "call"
	ActionIvr                      = "ivr"
	ActionConnect                  = "connect"
	ActionJoinConferenceConnection = "joinconferenceconnection"
)

// CallEvent event names (API.md §7).
const (
	EventCallingPartyDrop      = "callingPartyDrop"
	EventCalledPartyDrop       = "calledPartyDrop"
	EventCallerConnectionSplit = "callerConnectionSplit"
	EventCalleeConnectionSplit = "calleeConnectionSplit"
	EventCalledPartyFailed     = "calledPartyFailed"
)

// CallNotify event names (API.md §4.4, decision 23).
const (
	NotifyTrying           = "trying"
	NotifyRinging          = "ringing"
	NotifySessionProgress  = "sessionProgress"
	NotifyMonitorConnected = "monitorConnected"
	NotifyMonitorDropped   = "monitorDropped"
	// NotifyDTMF reports a digit pressed by a participant that is not on
	// an IVR (Config.NotifyDigits), e.g. to start a transfer on a key.
	NotifyDTMF = "dtmf"
)

// Failure reasons of calledPartyFailed (decision 13) and other CallEvent
// reasons.
const (
	ReasonBusy         = "busy"
	ReasonNoAnswer     = "noAnswer"
	ReasonRejected     = "rejected"
	ReasonUnreachable  = "unreachable"
	ReasonMediaTimeout = "mediaTimeout"
	ReasonHangup       = "hangup"
	ReasonShutdown     = "shutdown"
)

// Meta holds the fields every callback carries (API.md §4.2).
type Meta struct {
	SessionID          string `json:"sessionId"`
	Domain             string `json:"domain,omitempty"`
	SessionReferenceID string `json:"sessionReferenceId,omitempty"`
	// Timestamp is the event time, RFC 3339 UTC.
	Timestamp string `json:"timestamp,omitempty"`
	// APIBaseURL is the REST base URL of the instance that owns the session.
	APIBaseURL string `json:"apiBaseUrl,omitempty"`
}

// NewCallRequest is the newCall callback: a new inbound call (API.md §4.3).
type NewCallRequest struct {
	Meta
	SipCallID     string `json:"sipCallId"`
	ParticipantID string `json:"participantId"`
	ReplyID       string `json:"replyId"`
	CallingParty  string `json:"callingParty"`
	CalledParty   string `json:"calledParty"`
	User          string `json:"user,omitempty"`
	DisplayName   string `json:"displayName,omitempty"`
}

// CallEventRequest is the callEvent callback: a participant lost or changed
// its connection and the application decides what happens to it (§4.7).
type CallEventRequest struct {
	Meta
	Event         string `json:"event"`
	User          string `json:"user,omitempty"`
	ReplyID       string `json:"replyId"`
	Reason        string `json:"reason,omitempty"`
	ParticipantID string `json:"participantId"`
	ConnectionID  string `json:"connectionId,omitempty"`
	SipStatusCode int    `json:"sipStatusCode,omitempty"`
}

// CallNotifyRequest is the informational callNotify callback (§4.4).
type CallNotifyRequest struct {
	Meta
	Event         string `json:"event"`
	ReplyID       string `json:"replyId,omitempty"`
	ParticipantID string `json:"participantId,omitempty"`
	User          string `json:"user,omitempty"`
	SipStatusCode int    `json:"sipStatusCode,omitempty"`
	// Digit is the DTMF digit of event "dtmf".
	Digit string `json:"digit,omitempty"`
}

// CallAnsweredRequest is the callAnswered callback: a connection was
// established (§4.5).
type CallAnsweredRequest struct {
	Meta
	ConnectionID        string `json:"connectionId"`
	ReplyID             string `json:"replyId"`
	CallerParticipantID string `json:"callerParticipantId"`
	CalleeParticipantID string `json:"calleeParticipantId,omitempty"`
	CallerUser          string `json:"callerUser,omitempty"`
	CalleeUser          string `json:"calleeUser,omitempty"`
	IVR                 bool   `json:"ivr,omitempty"`
	CallRecording       bool   `json:"callRecording,omitempty"`
}

// IvrCommandRequest is the getIvrCommand callback (§4.6).
type IvrCommandRequest struct {
	Meta
	ConnectionID  string        `json:"connectionId"`
	ParticipantID string        `json:"participantId"`
	ReplyID       string        `json:"replyId"`
	DtmfParams    *DtmfParams   `json:"dtmfParams,omitempty"`
	RecordParams  *RecordParams `json:"recordParams,omitempty"`
	// Reason is why this request is sent: connected, commandCompleted,
	// dtmf, timer or interrupted.
	Reason string `json:"reason,omitempty"`
}

// DtmfParams is the result of a DTMF collection.
type DtmfParams struct {
	DtmfMatch string `json:"dtmfMatch"`
	// Reason is maxDigits, terminationKey or timeout.
	Reason string `json:"reason"`
}

// RecordParams is the result of a record command.
type RecordParams struct {
	FileName string  `json:"fileName"`
	Duration float64 `json:"duration"`
	// Reason is maxDuration, terminationKey, silence or hangup.
	Reason string `json:"reason"`
}

// SessionCompletedRequest is the sessionCompleted callback (§4.8).
type SessionCompletedRequest struct {
	Meta
	// SessionDuration is in seconds as a decimal string, e.g. "41.8".
	SessionDuration string `json:"sessionDuration"`
	StartTime       string `json:"startTime,omitempty"`
	EndTime         string `json:"endTime,omitempty"`
}

// RecordingReadyRequest is the recordingReady callback (§4.9).
type RecordingReadyRequest struct {
	Meta
	ConnectionID string  `json:"connectionId,omitempty"`
	Filename     string  `json:"filename"`
	Duration     float64 `json:"duration"`
	Size         int64   `json:"size"`
	Format       string  `json:"format"`
}

// SIPStatus is a SIP status code that JSON may give as a number or a string.
type SIPStatus int

// UnmarshalJSON accepts 486 and "486".
func (s *SIPStatus) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		if str == "" {
			*s = 0
			return nil
		}
		b = []byte(str)
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("sip status %q: %w", b, err)
	}
	*s = SIPStatus(n)
	return nil
}

// Action is the answer to newCall and callEvent (API.md §6).
type Action struct {
	Action   string `json:"action"`
	DestAddr string `json:"destAddr,omitempty"`
	CallerID string `json:"callerId,omitempty"`
	// CallRecording and Filename start a recording of the session.
	CallRecording bool   `json:"callRecording,omitempty"`
	Filename      string `json:"filename,omitempty"`
	// RecordingChannels is 1 (mono mix, the default) or 2 (decision 18).
	RecordingChannels int `json:"recordingChannels,omitempty"`
	// MonitorDestAddr is called after the first callAnswered and hears
	// the mix of all participants.
	MonitorDestAddr string `json:"monitorDestAddr,omitempty"`
	// DropReason is the SIP status used to reject an unanswered call.
	DropReason SIPStatus `json:"dropReason,omitempty"`
	// ParticipantID and ReplyID go with connect.
	ParticipantID string `json:"participantId,omitempty"`
	ReplyID       string `json:"replyId,omitempty"`
	// ConnectionID goes with joinconferenceconnection.
	ConnectionID string `json:"connectionId,omitempty"`
	// Command is an optional first IVR command for action ivr.
	Command *IvrCommand `json:"command,omitempty"`
}

// UnmarshalJSON also accepts "fileName" for "filename" (API.md §9).
func (a *Action) UnmarshalJSON(b []byte) error {
	type plain Action
	var v struct {
		plain
		FileName string `json:"fileName"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Action(v.plain)
	if a.Filename == "" {
		a.Filename = v.FileName
	}
	return nil
}

// IvrCommand is the answer to getIvrCommand (API.md §5.1). A command with
// Action "call" (and DestAddr) replaces the IVR by a new call leg.
type IvrCommand struct {
	Dtmf               *DtmfCommand   `json:"dtmf,omitempty"`
	Phrases            []Phrase       `json:"phrases,omitempty"`
	BackgroundPrompt   *Phrase        `json:"backgroundPrompt,omitempty"`
	Hangup             bool           `json:"hangup,omitempty"`
	GetIVRCommandAfter float64        `json:"getIVRCommandAfter,omitempty"`
	BargeIn            string         `json:"bargeIn,omitempty"`
	Record             *RecordCommand `json:"record,omitempty"`
	Echo               bool           `json:"echo,omitempty"`
	Action             string         `json:"action,omitempty"`
	DestAddr           string         `json:"destAddr,omitempty"`
	CallerID           string         `json:"callerId,omitempty"`
	// ConnectionID goes with action joinconferenceconnection, and
	// ParticipantID with connect (decision 2).
	ConnectionID  string `json:"connectionId,omitempty"`
	ParticipantID string `json:"participantId,omitempty"`
}

// DtmfCommand asks the IVR to collect digits (§5.2). An empty object means
// one digit (decision 15).
type DtmfCommand struct {
	MaxDigits         int     `json:"maxDigits,omitempty"`
	TerminationKey    string  `json:"terminationKey,omitempty"`
	Timeout           float64 `json:"timeout,omitempty"`
	InterDigitTimeout float64 `json:"interDigitTimeout,omitempty"`
}

// Phrase is one piece of audio to play (§5.3).
type Phrase struct {
	// Format is file, url, awstts (googletts is not built, decision 23).
	Format              string            `json:"format"`
	AwsTTSParameters    *AwsTTSParameters `json:"awsTTSParameters,omitempty"`
	FileName            string            `json:"fileName,omitempty"`
	URL                 string            `json:"url,omitempty"`
	GoogleTTSParameters json.RawMessage   `json:"googleTTSParameters,omitempty"`
	RepeatPause         float64           `json:"repeatPause,omitempty"`
	Repeat              int               `json:"repeat,omitempty"`
}

// AwsTTSParameters are Amazon Polly SynthesizeSpeech parameters, with
// Polly's PascalCase names.
type AwsTTSParameters struct {
	Text         string `json:"Text"`
	OutputFormat string `json:"OutputFormat,omitempty"`
	VoiceID      string `json:"VoiceId,omitempty"`
	LanguageCode string `json:"LanguageCode,omitempty"`
	TextType     string `json:"TextType,omitempty"`
	Engine       string `json:"Engine,omitempty"`
	SampleRate   string `json:"SampleRate,omitempty"`
}

// RecordCommand records the caller (§5.1 record).
type RecordCommand struct {
	FileName       string  `json:"fileName"`
	MaxDuration    float64 `json:"maxDuration,omitempty"`
	TerminationKey string  `json:"terminationKey,omitempty"`
	SilenceTimeout float64 `json:"silenceTimeout,omitempty"`
	Beep           bool    `json:"beep,omitempty"`
}

// PlaceIvrCallRequest is the body of POST /placeivrcall (§3.2).
type PlaceIvrCallRequest struct {
	DestAddr           string `json:"destAddr"`
	CallerID           string `json:"callerId,omitempty"`
	SessionReferenceID string `json:"sessionReferenceId,omitempty"`
	CallRecording      bool   `json:"callRecording,omitempty"`
	Filename           string `json:"filename,omitempty"`
	// Domain is the tenant domain the call belongs to (from the URL prefix).
	Domain string `json:"-"`
}

// HangupParticipantRequest is the body of POST /hangupparticipant (§3.3).
type HangupParticipantRequest struct {
	ParticipantID string `json:"participantId"`
	ReplyID       string `json:"replyId"`
	SessionID     string `json:"sessionId,omitempty"`
}

// SplitConnectionRequest is the body of POST /splitconnection (§3.5).
type SplitConnectionRequest struct {
	ConnectionID string `json:"connectionId"`
	ReplyID      string `json:"replyId"`
}

// ConnectRequest is the body of POST /connect (§3.6).
type ConnectRequest struct {
	ReplyID       string `json:"replyId"`
	ParticipantID string `json:"participantId"`
	CallRecording bool   `json:"callRecording,omitempty"`
	Filename      string `json:"filename,omitempty"`
}

// CreateConferenceRequest is the body of POST /createconferenceconnection.
type CreateConferenceRequest struct {
	SessionID     string `json:"sessionId,omitempty"`
	ReplyID       string `json:"replyId,omitempty"`
	CallRecording bool   `json:"callRecording,omitempty"`
	Filename      string `json:"filename,omitempty"`
}

// InterruptIvrCommandRequest is the body of POST /interruptivrcommand.
type InterruptIvrCommandRequest struct {
	ReplyID      string `json:"replyId"`
	ConnectionID string `json:"connectionId,omitempty"`
	SessionID    string `json:"sessionId,omitempty"`
}

// RecordingRequest is the body of POST /startrecording and /stoprecording.
type RecordingRequest struct {
	ReplyID      string `json:"replyId"`
	ConnectionID string `json:"connectionId"`
	Filename     string `json:"filename,omitempty"`
	Channels     int    `json:"channels,omitempty"`
}

// MuteRequest is the body of POST /muteparticipant and /unmuteparticipant
// (decision 23). Direction is "in" (mute what they say), "out" (deafen) or
// "both" (the default).
type MuteRequest struct {
	ParticipantID string `json:"participantId"`
	ReplyID       string `json:"replyId"`
	Direction     string `json:"direction,omitempty"`
}
