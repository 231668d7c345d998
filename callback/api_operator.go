package callback

import (
	"io"
	"net/http"
)

// routeOperator registers the operator paths (decision 19). Only
// /sessions/ is behind authentication (checked in route).
func (a *API) routeOperator() {
	m := http.NewServeMux()
	m.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		writeJSON(w, http.StatusOK, status{Status: "ok"})
	})
	if a.cfg.Readyz != nil {
		m.Handle("/readyz", a.cfg.Readyz)
	} else {
		m.HandleFunc("/readyz", a.readyz)
	}
	m.HandleFunc("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, openapiJSON)
	})
	if a.cfg.Metrics != nil {
		m.Handle("/metrics", a.cfg.Metrics)
	}
	if a.cfg.Sessions != nil {
		m.Handle("/sessions", a.cfg.Sessions)
		m.Handle("/sessions/", a.cfg.Sessions)
	} else {
		m.HandleFunc("/sessions", a.listSessions)
		m.HandleFunc("/sessions/{sessionId}", a.sessionTrace)
		m.HandleFunc("/sessions/{sessionId}/trace", a.sessionTrace)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such path")
	})
	a.operator = m
}

// status is the body of /healthz and /readyz.
type status struct {
	Status string `json:"status"`
}

func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return false
	}
	return true
}

// readyz is ready once the SIP listeners are bound and until Drain.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	select {
	case <-a.srv.Ready():
	default:
		writeJSON(w, http.StatusServiceUnavailable, status{Status: "starting"})
		return
	}
	if a.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, status{Status: "draining"})
		return
	}
	writeJSON(w, http.StatusOK, status{Status: "ready"})
}

// sessionList is the body of GET /sessions.
type sessionList struct {
	Sessions []sessionItem `json:"sessions"`
}

type sessionItem struct {
	SessionID string `json:"sessionId"`
}

// listSessions lists the sessions whose call-flow diagrams are kept: those
// completed within mediaserver.Config.TraceRetention, oldest first, then
// the live ones.
func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	out := sessionList{Sessions: []sessionItem{}}
	for _, tr := range a.srv.RecentTraces() {
		out.Sessions = append(out.Sessions, sessionItem{SessionID: tr.SessionID})
	}
	writeJSON(w, http.StatusOK, out)
}

// sessionTrace sends the Mermaid sequence diagram of one session.
func (a *API) sessionTrace(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	diagram, ok := a.srv.Trace(r.PathValue("sessionId"))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no trace of session "+r.PathValue("sessionId"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, diagram)
}
