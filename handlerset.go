package mediaserver

// handlerSet is the application Handler with its optional interfaces
// looked up once.
type handlerSet struct {
	Handler
	notify    CallNotifier
	answered  CallAnsweredHandler
	completed SessionCompletedHandler
	recording RecordingReadyHandler
}

func newHandlerSet(h Handler) handlerSet {
	hs := handlerSet{Handler: h}
	hs.notify, _ = h.(CallNotifier)
	hs.answered, _ = h.(CallAnsweredHandler)
	hs.completed, _ = h.(SessionCompletedHandler)
	hs.recording, _ = h.(RecordingReadyHandler)
	return hs
}
