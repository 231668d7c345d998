package callback

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mediaserver-go/mediaserver"
)

// codeMisdirected is the error code of 421 Misdirected Request (RFC 9110
// §15.5.20): the request names an object of another instance.
const codeMisdirected = "misdirected"

// misdirectedResponse is the body of a 421: the failure envelope plus the
// base URL of the instance that owns the object, when APIConfig.Peers
// knows it.
type misdirectedResponse struct {
	Success    bool   `json:"success"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	APIBaseURL string `json:"apiBaseUrl,omitempty"`
}

// checkPeers validates APIConfig.Peers and returns a copy with the URLs'
// trailing slashes trimmed.
func checkPeers(peers map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(peers))
	for id, u := range peers {
		if !validInstance(id) {
			return nil, fmt.Errorf("callback: api config Peers: instance ID %q: want 1-16 lowercase letters and digits", id)
		}
		u = strings.TrimRight(u, "/")
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("callback: api config Peers[%s]: %w", id, err)
		}
		out[id] = u
	}
	return out, nil
}

// validInstance reports whether id can be an instance ID (the rule of
// mediaserver.Config.InstanceID): 1-16 lowercase letters and digits.
func validInstance(id string) bool {
	if len(id) == 0 || len(id) > 16 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// idInstance returns the instance ID that owns id, or "".
func idInstance(id string) string {
	if strings.Contains(id, ".") {
		return "" // a replyId is not an object ID
	}
	return mediaserver.InstanceOf(id)
}

// replyInstance returns the instance of the object a replyId names, or "".
func replyInstance(token string) string {
	if !strings.Contains(token, ".") {
		return ""
	}
	return mediaserver.InstanceOf(token)
}

// misdirected answers 421 when the request belongs to another instance
// and reports whether it did; the Server is not touched then. replyID is
// the request's replyId, ids its other IDs in order of precedence: the
// first of them that has an instance prefix decides (a replyId first), so
// a request that mixes instances (connect with a participant of another
// instance, say) is left to the Server, which refuses it as before.
func (a *API) misdirected(w http.ResponseWriter, r *http.Request, op, replyID string, ids ...string) bool {
	owner := replyInstance(replyID)
	for _, id := range ids {
		if owner != "" {
			break
		}
		owner = idInstance(id)
	}
	if owner == "" || owner == a.srv.InstanceID() {
		return false
	}
	base := a.cfg.Peers[owner]
	msg := fmt.Sprintf("the object belongs to instance %s", owner)
	if base != "" {
		msg += "; send the request to " + base
	} else {
		msg += ", whose API base URL this instance does not know; use the apiBaseUrl of the session's callbacks"
	}
	a.log.LogAttrs(r.Context(), slog.LevelDebug, "api: misdirected", slog.String("op", op),
		slog.String("owner", owner), slog.String("apiBaseUrl", base))
	writeJSON(w, http.StatusMisdirectedRequest, misdirectedResponse{Error: codeMisdirected, Message: msg, APIBaseURL: base})
	return true
}
