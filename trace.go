package mediaserver

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// A session's trace: a bounded record of its SIP messages, callbacks and
// answers, REST calls and media changes, rendered as a Mermaid sequence
// diagram in the style of the examples document (participants: the SIP
// parties, the mediaserver, the application).

// maxTraceEntries bounds one session's trace; later entries replace the
// middle (the start and the end of a call matter most).
const maxTraceEntries = 400

type traceEntry struct {
	at       time.Time
	from, to string // actor keys: participant IDs, actorServer, actorApp
	text     string
	// detail is the JSON of a protocol value, summarised after text when
	// the diagram is rendered: recording a callback costs one Marshal,
	// and the summary's parsing is paid only by whoever reads the trace.
	detail []byte
	note   bool // a note over from (and to)
}

const (
	actorServer = "ms"
	actorApp    = "app"
)

type trace struct {
	mu      sync.Mutex // guards everything
	entries []traceEntry
	dropped int
	actors  []string          // in order of appearance
	labels  map[string]string // actor key → label
}

func newTrace() *trace {
	return &trace{labels: map[string]string{actorServer: "Mediaservice", actorApp: "Application"}}
}

// actor names a participant once, in order of appearance.
func (t *trace) actor(p *Participant) string {
	key := p.id
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.labels[key]; !ok {
		label := p.user
		switch {
		case p.kind == KindIVR:
			label = "IVR"
		case label == "":
			label = p.kind.String()
		}
		t.labels[key] = label
		t.actors = append(t.actors, key)
	}
	return key
}

func (t *trace) add(from, to, text string, note bool) { t.addDetail(from, to, text, nil, note) }

// addValue adds an entry whose text is followed by the summary of v's
// JSON (see summarize).
func (t *trace) addValue(from, to, text string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = nil
	}
	t.addDetail(from, to, text, b, false)
}

func (t *trace) addDetail(from, to, text string, detail []byte, note bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := traceEntry{at: time.Now(), from: from, to: to, text: text, detail: detail, note: note}
	if len(t.entries) >= maxTraceEntries {
		// Keep the first half; drop the oldest of the second half.
		half := maxTraceEntries / 2
		copy(t.entries[half:], t.entries[half+1:])
		t.entries = t.entries[:len(t.entries)-1]
		t.dropped++
	}
	t.entries = append(t.entries, e)
}

// sip records a SIP message between p and the server.
func (ss *Session) traceSIP(p *Participant, in bool, msg string) {
	a := ss.trace.actor(p)
	if in {
		ss.trace.add(a, actorServer, "SIP "+msg, false)
	} else {
		ss.trace.add(actorServer, a, "SIP "+msg, false)
	}
}

// traceCallback records a callback and its answer.
func (ss *Session) traceCallback(name string, req any, answer any, err error) {
	ss.trace.addValue(actorServer, actorApp, "POST /"+name, req)
	switch {
	case err != nil:
		ss.trace.add(actorApp, actorServer, "failed: "+shorten(err.Error(), 60), false)
	case answer != nil:
		ss.trace.addValue(actorApp, actorServer, "200 OK", answer)
	default:
		ss.trace.add(actorApp, actorServer, "200 OK", false)
	}
}

// traceREST records a REST call (a Server method) about the session.
func (ss *Session) traceREST(op string, req any) {
	ss.trace.addValue(actorApp, actorServer, "POST /"+op, req)
}

// traceNote records a media change over participants.
func (ss *Session) traceNote(text string, ps ...*Participant) {
	if len(ps) == 0 {
		ss.trace.add(actorServer, actorServer, text, true)
		return
	}
	a := ss.trace.actor(ps[0])
	b := a
	if len(ps) > 1 {
		b = ss.trace.actor(ps[len(ps)-1])
	}
	ss.trace.add(a, b, text, true)
}

// summarize renders the interesting fields of a protocol value's JSON
// compactly: the non-empty fields except the bulky ones.
func summarize(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"event", "action", "reason", "destAddr", "user", "dtmfParams", "recordParams",
		"dtmf", "phrases", "backgroundPrompt", "hangup", "getIVRCommandAfter", "record", "connectionId",
		"participantId", "callRecording", "filename", "monitorDestAddr", "sipStatusCode", "sessionDuration"} {
		x, ok := m[k]
		if !ok || x == "" || x == false || x == nil {
			continue
		}
		vb, _ := json.Marshal(x)
		parts = append(parts, k+":"+shorten(string(vb), 40))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// statusLine renders a SIP status for the trace.
func statusLine(code int) string {
	reasons := map[int]string{180: "Ringing", 183: "Session Progress", 200: "OK", 404: "Not Found", 408: "Request Timeout",
		480: "Temporarily Unavailable", 486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
		503: "Service Unavailable", 603: "Decline"}
	return fmt.Sprintf("%d %s", code, reasons[code])
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// mermaidText makes text safe inside a Mermaid message: no line breaks,
// and ';' and '#' (which end a statement or start an entity) as Mermaid's
// entity codes #59; and #35;, which it shows as the characters.
func mermaidText(s string) string {
	return mermaidEscaper.Replace(s)
}

var mermaidEscaper = strings.NewReplacer("\n", " ", "\r", " ", "#", "#35;", ";", "#59;", "%%", "%")

// mermaid renders the trace as a Mermaid sequence diagram.
func (t *trace) mermaid() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	ids := map[string]string{actorServer: "MS", actorApp: "App"}
	order := append([]string{}, t.actors...)
	for i, key := range order {
		ids[key] = fmt.Sprintf("P%d", i+1)
	}
	for _, key := range order {
		fmt.Fprintf(&b, "    participant %s as %s\n", ids[key], mermaidText(t.labels[key]))
	}
	b.WriteString("    participant MS as Mediaservice\n    participant App as Application\n")
	for i, e := range t.entries {
		if t.dropped > 0 && i == maxTraceEntries/2 {
			fmt.Fprintf(&b, "    Note over MS: %d entries omitted\n", t.dropped)
		}
		if e.detail != nil {
			e.text += " " + summarize(e.detail)
		}
		switch {
		case e.note && e.from == e.to:
			fmt.Fprintf(&b, "    Note over %s: %s\n", ids[e.from], mermaidText(e.text))
		case e.note:
			fmt.Fprintf(&b, "    Note over %s,%s: %s\n", ids[e.from], ids[e.to], mermaidText(e.text))
		default:
			fmt.Fprintf(&b, "    %s->>%s: %s\n", ids[e.from], ids[e.to], mermaidText(e.text))
		}
	}
	return b.String()
}

// Trace renders the session's message flow (SIP, callbacks, REST calls,
// media changes) as a Mermaid sequence diagram. It is safe to call at any
// time, also after the session completed.
func (ss *Session) Trace() string { return ss.trace.mermaid() }

// Trace returns the Mermaid diagram of a live session, or of one that
// completed within Config.TraceRetention.
func (s *Server) Trace(sessionID string) (string, bool) {
	s.mu.Lock()
	var t *trace
	if ss, ok := s.sessions[sessionID]; ok {
		t = ss.trace
	} else if done, ok := s.finished.get(sessionID); ok {
		t = done.trace
	}
	s.mu.Unlock()
	if t == nil {
		return "", false
	}
	return t.mermaid(), true
}

// finishedSessions keeps the traces of completed sessions, bounded by
// count and age: only the trace (a few KB), not the session, whose
// participants, endpoints and SIP state are freed when it ends. A timer
// drops expired traces when no traffic comes to do it. Guarded by
// Server.mu.
type finishedSessions struct {
	max   int
	keep  time.Duration
	order []finishedSession
	byID  map[string]*trace
	// timer runs expireLater at the oldest trace's expiry; nil when none
	// is pending. onTimer is what it calls (Server.expireTraces).
	timer   *time.Timer
	onTimer func()
	closed  bool
}

type finishedSession struct {
	id      string
	endedAt time.Time
	trace   *trace
}

func (f *finishedSessions) add(ss *Session) {
	if f.max <= 0 || f.closed {
		return
	}
	if f.byID == nil {
		f.byID = make(map[string]*trace)
	}
	f.expire()
	for len(f.order) >= f.max {
		delete(f.byID, f.order[0].id)
		f.order = f.order[1:]
	}
	f.order = append(f.order, finishedSession{id: ss.id, endedAt: ss.endedAt, trace: ss.trace})
	f.byID[ss.id] = ss.trace
	f.schedule()
}

func (f *finishedSessions) expire() {
	now := time.Now()
	n := 0
	for n < len(f.order) && now.Sub(f.order[n].endedAt) > f.keep {
		delete(f.byID, f.order[n].id)
		f.order[n] = finishedSession{}
		n++
	}
	f.order = f.order[n:]
	if len(f.order) == 0 {
		f.order = nil // let the backing array go
	}
}

// schedule arms the timer for the oldest trace's expiry.
func (f *finishedSessions) schedule() {
	if f.timer != nil || len(f.order) == 0 || f.onTimer == nil {
		return
	}
	d := time.Until(f.order[0].endedAt.Add(f.keep)) + time.Millisecond
	f.timer = time.AfterFunc(max(d, 0), f.onTimer)
}

// stop drops every trace and the timer (Server.Close).
func (f *finishedSessions) stop() {
	f.closed = true
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
}

func (f *finishedSessions) get(id string) (finishedSession, bool) {
	f.expire()
	t, ok := f.byID[id]
	return finishedSession{id: id, trace: t}, ok
}

// expireTraces is the finished-traces timer: it drops what expired and
// arms the timer for the next.
func (s *Server) expireTraces() {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.finished
	f.timer = nil
	if f.closed {
		return
	}
	f.expire()
	f.schedule()
}

// SessionTrace is the call-flow diagram of one session.
type SessionTrace struct {
	SessionID string
	// Diagram is a Mermaid sequence diagram (see Session.Trace).
	Diagram string
}

// RecentTraces returns the diagrams of the sessions completed within
// Config.TraceRetention, oldest first, then of the live sessions.
func (s *Server) RecentTraces() []SessionTrace {
	s.mu.Lock()
	s.finished.expire()
	list := append([]finishedSession(nil), s.finished.order...)
	for _, ss := range s.sessions {
		list = append(list, finishedSession{id: ss.id, trace: ss.trace})
	}
	s.mu.Unlock()
	out := make([]SessionTrace, 0, len(list))
	for _, fs := range list {
		out = append(out, SessionTrace{SessionID: fs.id, Diagram: fs.trace.mermaid()})
	}
	return out
}
