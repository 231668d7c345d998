package callback

import (
	"net/http"

	"github.com/mediaserver-go/mediaserver"
)

// routeOps registers the operations of API.md §3 under /{domain}/ only
// (decision 19); ServeHTTP rewrites an unprefixed path to the default
// domain.
func (a *API) routeOps() {
	m := http.NewServeMux()
	post := func(op string, h func(w http.ResponseWriter, r *http.Request)) {
		m.HandleFunc("/{domain}/"+op, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				methodNotAllowed(w, "POST, OPTIONS")
				return
			}
			h(w, r)
		})
	}
	post("placeivrcall", a.placeIvrCall)
	post("splitconnection", a.splitConnection)
	post("connect", a.connect)
	post("createconferenceconnection", a.createConference)
	post("hangupparticipant", a.hangupParticipant)
	post("interruptivrcommand", a.interruptIvrCommand)
	post("startrecording", a.startRecording)
	post("stoprecording", a.stopRecording)
	post("muteparticipant", a.mute(false))
	post("unmuteparticipant", a.mute(true))
	m.HandleFunc("/{domain}/promptfile/{filename}", a.promptFile)
	a.ops = m
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, codeInvalidRequest, "method not allowed; allowed: "+allow)
}

// domainOf is the domain a rewritten path names ("" for the default
// domain when none is configured).
func domainOf(r *http.Request) string {
	d := r.PathValue("domain")
	if d == defaultDomainSegment {
		return ""
	}
	return d
}

func (a *API) ok(w http.ResponseWriter, res okResponse) {
	res.Success = true
	writeJSON(w, http.StatusOK, res)
}

func (a *API) placeIvrCall(w http.ResponseWriter, r *http.Request) {
	var req mediaserver.PlaceIvrCallRequest
	if !a.decodeBody(w, r, &req) || missing(w, "destAddr", req.DestAddr) {
		return
	}
	req.Domain = domainOf(r)
	res, err := a.srv.PlaceIvrCall(r.Context(), req)
	if err != nil {
		a.fail(w, r, "placeivrcall", err)
		return
	}
	a.ok(w, okResponse{SessionID: res.SessionID})
}

func (a *API) splitConnection(w http.ResponseWriter, r *http.Request) {
	var req mediaserver.SplitConnectionRequest
	if !a.decodeBody(w, r, &req) || missing(w, "connectionId", req.ConnectionID, "replyId", req.ReplyID) ||
		a.misdirected(w, r, "splitconnection", req.ReplyID, req.ConnectionID) {
		return
	}
	if err := a.srv.SplitConnection(r.Context(), req); err != nil {
		a.fail(w, r, "splitconnection", err)
		return
	}
	a.ok(w, okResponse{})
}

func (a *API) connect(w http.ResponseWriter, r *http.Request) {
	var req mediaserver.ConnectRequest
	if !a.decodeBody(w, r, &req) || missing(w, "replyId", req.ReplyID, "participantId", req.ParticipantID) ||
		a.misdirected(w, r, "connect", req.ReplyID) {
		return
	}
	if err := a.srv.Connect(r.Context(), req); err != nil {
		a.fail(w, r, "connect", err)
		return
	}
	a.ok(w, okResponse{})
}

func (a *API) createConference(w http.ResponseWriter, r *http.Request) {
	var req mediaserver.CreateConferenceRequest
	if !a.decodeBody(w, r, &req) || a.misdirected(w, r, "createconferenceconnection", req.ReplyID, req.SessionID) {
		return
	}
	id, err := a.srv.CreateConferenceConnection(r.Context(), req)
	if err != nil {
		a.fail(w, r, "createconferenceconnection", err)
		return
	}
	a.ok(w, okResponse{ConnectionID: id})
}

func (a *API) hangupParticipant(w http.ResponseWriter, r *http.Request) {
	var req mediaserver.HangupParticipantRequest
	if !a.decodeBody(w, r, &req) || missing(w, "participantId", req.ParticipantID, "replyId", req.ReplyID) ||
		a.misdirected(w, r, "hangupparticipant", req.ReplyID, req.ParticipantID, req.SessionID) {
		return
	}
	if err := a.srv.HangupParticipant(r.Context(), req); err != nil {
		a.fail(w, r, "hangupparticipant", err)
		return
	}
	a.ok(w, okResponse{})
}

func (a *API) interruptIvrCommand(w http.ResponseWriter, r *http.Request) {
	var req mediaserver.InterruptIvrCommandRequest
	if !a.decodeBody(w, r, &req) || missing(w, "replyId", req.ReplyID) ||
		a.misdirected(w, r, "interruptivrcommand", req.ReplyID, req.ConnectionID, req.SessionID) {
		return
	}
	if err := a.srv.InterruptIvrCommand(r.Context(), req); err != nil {
		a.fail(w, r, "interruptivrcommand", err)
		return
	}
	a.ok(w, okResponse{})
}

func (a *API) startRecording(w http.ResponseWriter, r *http.Request) {
	var req mediaserver.RecordingRequest
	if !a.decodeBody(w, r, &req) || missing(w, "connectionId", req.ConnectionID, "filename", req.Filename) ||
		a.misdirected(w, r, "startrecording", req.ReplyID, req.ConnectionID) {
		return
	}
	if err := a.srv.StartRecording(r.Context(), req); err != nil {
		a.fail(w, r, "startrecording", err)
		return
	}
	a.ok(w, okResponse{})
}

func (a *API) stopRecording(w http.ResponseWriter, r *http.Request) {
	var req mediaserver.RecordingRequest
	if !a.decodeBody(w, r, &req) || missing(w, "connectionId", req.ConnectionID) ||
		a.misdirected(w, r, "stoprecording", req.ReplyID, req.ConnectionID) {
		return
	}
	if err := a.srv.StopRecording(r.Context(), req); err != nil {
		a.fail(w, r, "stoprecording", err)
		return
	}
	a.ok(w, okResponse{})
}

// mute serves /muteparticipant, or /unmuteparticipant when undo.
func (a *API) mute(undo bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		var req mediaserver.MuteRequest
		op, f := "muteparticipant", a.srv.MuteParticipant
		if undo {
			op, f = "unmuteparticipant", a.srv.UnmuteParticipant
		}
		if !a.decodeBody(w, r, &req) || missing(w, "participantId", req.ParticipantID, "replyId", req.ReplyID) ||
			a.misdirected(w, r, op, req.ReplyID, req.ParticipantID) {
			return
		}
		if err := f(r.Context(), req); err != nil {
			a.fail(w, r, op, err)
			return
		}
		a.ok(w, okResponse{})
	}
}
