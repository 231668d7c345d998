package mediaserver

import (
	"time"

	"github.com/mediaserver-go/mediaserver/ivr"
	"github.com/mediaserver-go/mediaserver/media"
	"github.com/mediaserver-go/mediaserver/sip"
)

// Observer receives what the server does, for metrics: package metrics
// implements it with Prometheus. Its methods are called concurrently from
// session loops and server goroutines; they must be fast and must not
// block. Set it in Config.Observer; nil observes nothing.
type Observer interface {
	// SessionStarted and SessionEnded bracket every session.
	SessionStarted()
	SessionEnded(d time.Duration)
	// ParticipantStarted and ParticipantEnded bracket every participant.
	// outcome says how a SIP leg ended: OutcomeCompleted (it was
	// answered), OutcomeCancelled, OutcomeRejected, or for callees the
	// failure reasons of decision 13 (busy, noAnswer, rejected,
	// unreachable).
	ParticipantStarted(kind ParticipantKind)
	ParticipantEnded(kind ParticipantKind, outcome string)
	// ConnectionStarted and ConnectionEnded bracket connections by kind:
	// "bridge", "ivr" or "conference".
	ConnectionStarted(kind string)
	ConnectionEnded(kind string)
	// CallbackDone reports one Handler call: the callback's protocol name
	// (one of the Callback constants), how long it took, and its error:
	// nil on success; a timeout or a panic is an error. A call cut short
	// because nobody wanted its answer any more (the participant left,
	// the server closes) is not reported.
	CallbackDone(name string, d time.Duration, err error)
	// RecordingFinished reports a recording file written.
	RecordingFinished(d time.Duration, size int64)
}

// The callbacks of the protocol, as Observer.CallbackDone names them.
const (
	CallbackNewCall          = "newCall"
	CallbackCallEvent        = "callEvent"
	CallbackGetIvrCommand    = "getIvrCommand"
	CallbackCallNotify       = "callNotify"
	CallbackCallAnswered     = "callAnswered"
	CallbackSessionCompleted = "sessionCompleted"
	CallbackRecordingReady   = "recordingReady"
)

// Outcomes of a participant (Observer.ParticipantEnded).
const (
	OutcomeCompleted = "completed"
	OutcomeCancelled = "cancelled"
	OutcomeRejected  = "rejected"
)

// Connection kinds (Observer.ConnectionStarted).
const (
	ConnectionBridge     = "bridge"
	ConnectionIVR        = "ivr"
	ConnectionConference = "conference"
)

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) SessionStarted()                           {}
func (nopObserver) SessionEnded(time.Duration)                {}
func (nopObserver) ParticipantStarted(ParticipantKind)        {}
func (nopObserver) ParticipantEnded(ParticipantKind, string)  {}
func (nopObserver) ConnectionStarted(string)                  {}
func (nopObserver) ConnectionEnded(string)                    {}
func (nopObserver) CallbackDone(string, time.Duration, error) {}
func (nopObserver) RecordingFinished(time.Duration, int64)    {}

// Stats is a snapshot of the server's state and counters, for metrics and
// health checks. Counters only grow for the life of the server.
type Stats struct {
	// Sessions, Participants and Conferences active now.
	Sessions, Participants, Conferences int
	// Draining is true once Shutdown or Close began.
	Draining bool
	// Media totals over every RTP endpoint the server had: packets and
	// bytes each way, datagrams dropped as malformed, from a foreign
	// source or of an unknown payload type, packets lost (RFC 3550),
	// packets too late for the jitter buffer, DTMF digits.
	Media media.Totals
	// Clock is how well the media clock keeps time.
	Clock media.ClockStats
	// Prompts are the prompt and TTS cache counters.
	Prompts ivr.LibraryStats
	// SIP counts requests refused by admission and validation.
	SIP sip.Stats
	// AtCapacity counts INVITEs refused with 503 because MaxSessions
	// sessions were active.
	AtCapacity uint64
}

// Stats returns a snapshot of the server's state and counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Draining: s.draining.Load(),
		Media:    s.clock.Totals(),
		Clock:    s.clock.Stats(),
		Prompts:  s.library.Stats(),
		SIP:      s.agent.Stats(),

		AtCapacity: s.atCapacity.Load(),
	}
	s.mu.Lock()
	st.Sessions = len(s.sessions)
	st.Conferences = len(s.confs)
	for _, o := range s.objects {
		if o.part != nil && !o.part.dead.Load() {
			st.Participants++
		}
	}
	s.mu.Unlock()
	return st
}
