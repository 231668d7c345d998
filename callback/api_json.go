package callback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mediaserver-go/mediaserver"
)

// Error codes of the error envelope (API.md §2.2).
const (
	codeInvalidRequest = "invalidRequest"
	codeNotFound       = "notFound"
	codeInvalidState   = "invalidState"
	codeInternal       = "internalError"
)

// okResponse is the success envelope; the operation's data sits beside
// "success".
type okResponse struct {
	Success      bool   `json:"success"`
	SessionID    string `json:"sessionId,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
}

// errorResponse is the failure envelope (API.md §2.2).
type errorResponse struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"success":false,"error":"internalError","message":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, errorResponse{Error: code, Message: msg})
}

// fail answers a Server method's error with its status (the mapping of the
// root package's sentinels) and logs what the client cannot fix.
func (a *API) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	msg := strings.ReplaceAll(err.Error(), "mediaserver: ", "")
	switch {
	case errors.Is(err, mediaserver.ErrInvalid):
		writeError(w, http.StatusBadRequest, codeInvalidRequest, msg)
	case errors.Is(err, mediaserver.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, msg)
	case errors.Is(err, mediaserver.ErrStaleReply), errors.Is(err, mediaserver.ErrInvalidState):
		writeError(w, http.StatusConflict, codeInvalidState, msg)
	case errors.Is(err, mediaserver.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, codeInvalidRequest, msg)
	case errors.Is(err, mediaserver.ErrServerClosed), errors.Is(err, mediaserver.ErrMaxSessions):
		writeError(w, http.StatusServiceUnavailable, codeInternal, msg)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		a.log.Debug("api: client went away", "op", op, logErr, err)
		writeError(w, http.StatusInternalServerError, codeInternal, "request cancelled")
	default:
		a.log.Error("api: operation failed", "op", op, logErr, err)
		writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
	}
}

// decodeBody reads a JSON object into v: at most MaxBodySize bytes (413
// beyond), an empty body counts as {}, unknown fields are ignored and
// wrong types refused. It answers the error itself and reports success.
func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, codeInvalidRequest, fmt.Sprintf("body larger than %d bytes", mbe.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, codeInvalidRequest, "reading the body: "+err.Error())
		return false
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		b = []byte("{}")
	}
	if b[0] != '{' {
		writeError(w, http.StatusBadRequest, codeInvalidRequest, "body must be a JSON object")
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidRequest, jsonErrorMessage(err))
		return false
	}
	return true
}

// jsonErrorMessage says what is wrong with a body in terms of its fields.
func jsonErrorMessage(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Sprintf("field %s: got a JSON %s, want %s", te.Field, te.Value, jsonType(te.Type.Kind().String()))
	case errors.As(err, &te):
		return fmt.Sprintf("got a JSON %s, want %s", te.Value, jsonType(te.Type.Kind().String()))
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	return "invalid JSON: " + err.Error()
}

func jsonType(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "struct", kind == "map":
		return "an object"
	case kind == "slice", kind == "array":
		return "an array"
	}
	return kind
}

// missing answers 400 when required fields are empty. pairs alternate
// field names and values.
func missing(w http.ResponseWriter, pairs ...string) bool {
	var names []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			names = append(names, pairs[i])
		}
	}
	if len(names) == 0 {
		return false
	}
	writeError(w, http.StatusBadRequest, codeInvalidRequest, "missing required field(s): "+strings.Join(names, ", "))
	return true
}
