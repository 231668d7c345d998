package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mediaserver-go/mediaserver/ivr"
	"github.com/mediaserver-go/mediaserver/media"
)

// recording is one WAV file being written (decision 18): a session's mix
// (or two channels: its first participant, everyone else) or a
// conference's mix.
type recording struct {
	filename     string // the name in prompt storage, with .wav
	connectionID string // the connection named when it started
	channels     int
	rec          *media.Recorder
	started      time.Time
	frames       int // written, owned by the clock goroutine
}

// maxPad bounds the silence written at once for ticks the clock skipped.
const maxPad = 250 // 5 s

// write records this tick's frame(s). When the media clock skipped ticks
// (a starved process), the gap is filled with silence first, so that the
// recording keeps the call's real length.
func (r *recording) write(now time.Time, mono, left, right *media.Frame) {
	due := int(now.Sub(r.started) / media.FrameDuration)
	var silence media.Frame
	for n := 0; r.frames < due-1 && n < maxPad; n++ {
		r.put(&silence, &silence, &silence)
	}
	r.put(mono, left, right)
}

func (r *recording) put(mono, left, right *media.Frame) {
	if r.channels == 2 {
		r.rec.WriteStereo(left, right)
	} else {
		r.rec.Write(mono)
	}
	r.frames++
}

// newRecording creates the file exclusively: a name without extension
// gets ".wav", a ".mp3" name is ErrInvalid, a taken name ErrInvalidState.
func (s *Server) newRecording(name, connectionID string, channels int) (*recording, error) {
	if name == "" {
		return nil, fmt.Errorf("recording needs a filename: %w", ErrInvalid)
	}
	fname, err := ivr.RecordingName(name)
	if err != nil {
		return nil, promptErr(err)
	}
	f, err := s.store.Create(fname)
	if err != nil {
		if errors.Is(err, ivr.ErrExists) {
			return nil, fmt.Errorf("recording %s: %w: %w", fname, ErrInvalidState, err)
		}
		return nil, promptErr(err)
	}
	if channels != 2 {
		channels = 1
	}
	return &recording{
		filename:     fname,
		connectionID: connectionID,
		channels:     channels,
		rec:          media.NewRecorder(f, channels),
		started:      time.Now(),
	}, nil
}

// finish closes the file and returns the recordingReady body.
func (r *recording) finish(s *Server, meta Meta) *RecordingReadyRequest {
	info, err := r.rec.Close()
	s.obs.RecordingFinished(info.Duration, info.Size)
	req := &RecordingReadyRequest{
		Meta:         meta,
		ConnectionID: r.connectionID,
		Filename:     r.filename,
		Duration:     info.Duration.Seconds(),
		Size:         info.Size,
		Format:       "wav",
	}
	if err != nil {
		s.log.Warn("recording: finishing the file", "filename", r.filename, logErr, err)
	}
	return req
}

// startRecording records the session from now on (the newCall, call or
// connect answers' callRecording).
func (ss *Session) startRecording(name, connectionID string, channels int) error {
	r, err := ss.srv.newRecording(name, connectionID, channels)
	if err != nil {
		return err
	}
	if err := ss.addRecording(r); err != nil {
		ss.srv.discard(r)
		return err
	}
	return nil
}

// addRecording attaches a new recording to the session mix.
func (ss *Session) addRecording(r *recording) error {
	for _, x := range ss.recs {
		if x.connectionID == r.connectionID {
			return fmt.Errorf("the session already records %s: %w", x.filename, ErrInvalidState)
		}
	}
	ss.recs = append(ss.recs, r)
	ss.refreshTap()
	ss.log.Info("recording started", "filename", r.filename, "channels", r.channels)
	return nil
}

// discard abandons a recording that never started: its empty file goes.
func (s *Server) discard(r *recording) {
	_, _ = r.rec.Close()
	_ = s.store.Delete(r.filename)
}

// stopRecording finishes recordings; recordingReady follows at once
// (decision 18). It stops the recording started on connectionID, else
// (the session's connections changed since) every recording of the
// session; "" stops all of them.
func (ss *Session) stopRecording(connectionID string) {
	var keep, done []*recording
	for _, r := range ss.recs {
		if r.connectionID == connectionID {
			done = append(done, r)
		} else {
			keep = append(keep, r)
		}
	}
	if len(done) == 0 || connectionID == "" {
		keep, done = nil, ss.recs
	}
	ss.recs = keep
	ss.refreshTap() // the tap stops writing before the files close
	for _, r := range done {
		req := r.finish(ss.srv, ss.meta())
		ss.log.Info("recording finished", "filename", r.filename, "duration", req.Duration, "size", req.Size)
		if h := ss.srv.handler.recording; h != nil {
			ss.notify(CallbackRecordingReady, req, func(ctx context.Context) error { return h.RecordingReady(ctx, req) })
		}
	}
}

// finishDetached finishes a conference's recording and delivers its
// recordingReady on a goroutine owned by the server (a conference belongs
// to no session).
func (s *Server) finishDetached(r *recording) {
	req := r.finish(s, Meta{Domain: s.cfg.Domain, APIBaseURL: s.cfg.APIBaseURL, Timestamp: time.Now().UTC().Format(time.RFC3339Nano)})
	h := s.handler.recording
	if h == nil {
		return
	}
	s.sessWG.Add(1)
	go func() {
		defer s.sessWG.Done()
		ctx, cancel := context.WithTimeout(s.base, s.cfg.DecisionTimeout)
		defer cancel()
		if err := h.RecordingReady(ctx, req); err != nil {
			s.log.Warn("recordingReady failed", "filename", req.Filename, logErr, err)
		}
	}()
}

// StartRecording starts recording the session of a connection (API.md
// §3.9, decision 18): its connections as they change, into one WAV file in
// prompt storage. For a conference connection the conference's mix is
// recorded. replyId is the connection's.
func (s *Server) StartRecording(ctx context.Context, req RecordingRequest) error {
	r, c, f, err := s.recordingTarget(req)
	if err != nil {
		return err
	}
	if f != nil {
		rec, err := s.newRecording(req.Filename, f.id, 1)
		if err != nil {
			return err
		}
		f.mu.Lock()
		if f.rec != nil || f.dead.Load() {
			f.mu.Unlock()
			_, _ = rec.rec.Close()
			_ = s.store.Delete(rec.filename)
			return fmt.Errorf("conference %s: already recording or ended: %w", f.id, ErrInvalidState)
		}
		f.rec = rec
		f.mu.Unlock()
		return nil
	}
	// The file is created here, so a bad or taken name is this call's
	// error (decision 18); the session loop attaches it.
	rec, err := s.newRecording(req.Filename, c.id, req.Channels)
	if err != nil {
		return err
	}
	ss := r.sess
	ss.traceREST("startrecording", req)
	if !ss.post(func() {
		if c.dead.Load() || ss.addRecording(rec) != nil {
			ss.srv.discard(rec)
		}
	}) {
		s.discard(rec)
		return fmt.Errorf("session of connection %s ended: %w", c.id, ErrStaleReply)
	}
	return nil
}

// StopRecording stops a recording; recordingReady follows at once.
func (s *Server) StopRecording(ctx context.Context, req RecordingRequest) error {
	r, c, f, err := s.recordingTarget(req)
	if err != nil {
		return err
	}
	if f != nil {
		f.mu.Lock()
		rec := f.rec
		f.rec = nil
		f.mu.Unlock()
		if rec == nil {
			return fmt.Errorf("conference %s is not recording: %w", f.id, ErrInvalidState)
		}
		s.finishDetached(rec)
		return nil
	}
	ss := r.sess
	ss.traceREST("stoprecording", req)
	ss.post(func() { ss.stopRecording(c.id) })
	return nil
}

// recordingTarget validates a start/stop recording request.
func (s *Server) recordingTarget(req RecordingRequest) (resolved, *Connection, *Conference, error) {
	if s.closed.Load() {
		return resolved{}, nil, nil, ErrServerClosed
	}
	if req.ConnectionID == "" {
		return resolved{}, nil, nil, fmt.Errorf("connectionId is required: %w", ErrInvalid)
	}
	r, err := s.resolve(req.ReplyID)
	if err != nil {
		return resolved{}, nil, nil, err
	}
	if f := r.obj.conf; f != nil {
		if f.id != req.ConnectionID {
			return resolved{}, nil, nil, fmt.Errorf("replyId does not name connection %s: %w", req.ConnectionID, ErrNotFound)
		}
		return r, nil, f, nil
	}
	c := r.obj.conn
	if c == nil {
		if p := r.obj.part; p != nil {
			c = p.curConn.Load()
		}
	}
	if c == nil || c.id != req.ConnectionID {
		return resolved{}, nil, nil, fmt.Errorf("replyId does not name connection %s: %w", req.ConnectionID, ErrNotFound)
	}
	return r, c, nil, nil
}
