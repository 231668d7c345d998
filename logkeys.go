package mediaserver

// slog keys, spelled like the protocol's JSON names (decision 23).
const (
	logSessionID     = "sessionId"
	logParticipantID = "participantId"
	logConnectionID  = "connectionId"
	logCallID        = "callId"
	logErr           = "err"
)
