package callback

// slog keys, spelled like the protocol's JSON names (decision 23).
const (
	logSessionID = "sessionId"
	logErr       = "err"
)
