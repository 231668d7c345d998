package metrics

import "github.com/mediaserver-go/mediaserver"

// The label values are fixed sets, so a bug upstream cannot create series
// without bound: a value outside its set is counted under labelOther.
// These tables are never changed.

// labelOther stands for any label value outside its known set.
const labelOther = "other"

// participantKinds are the participant kinds with their own label value
// (ParticipantKind.String); index 0 of a per-kind array is labelOther.
var participantKinds = [...]mediaserver.ParticipantKind{
	mediaserver.KindCaller,
	mediaserver.KindCallee,
	mediaserver.KindIVR,
	mediaserver.KindMonitor,
}

// numKinds is the length of a per-kind array: the known kinds and other.
const numKinds = len(participantKinds) + 1

// kindIndex returns the index of k in a per-kind array.
func kindIndex(k mediaserver.ParticipantKind) int {
	for i, known := range participantKinds {
		if k == known {
			return i + 1
		}
	}
	return 0
}

// kindLabel returns the label value of the per-kind index i.
func kindLabel(i int) string {
	if i == 0 {
		return labelOther
	}
	return participantKinds[i-1].String()
}

// outcomes are the participant outcomes of Observer.ParticipantEnded: the
// end of an answered leg, a caller's cancel or rejection, and a callee's
// failure reasons (decision 13).
var outcomes = [...]string{
	mediaserver.OutcomeCompleted,
	mediaserver.OutcomeCancelled,
	mediaserver.OutcomeRejected,
	mediaserver.ReasonBusy,
	mediaserver.ReasonNoAnswer,
	mediaserver.ReasonUnreachable,
}

// connectionKinds are the kinds of Observer.ConnectionStarted.
var connectionKinds = [...]string{
	mediaserver.ConnectionBridge,
	mediaserver.ConnectionIVR,
	mediaserver.ConnectionConference,
}

// callbackNames are the protocol names of the Handler calls that
// Observer.CallbackDone reports (API.md §4).
var callbackNames = [...]string{
	mediaserver.CallbackNewCall,
	mediaserver.CallbackCallEvent,
	mediaserver.CallbackGetIvrCommand,
	mediaserver.CallbackCallNotify,
	mediaserver.CallbackCallAnswered,
	mediaserver.CallbackSessionCompleted,
	mediaserver.CallbackRecordingReady,
}
