package mediaserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// ID kinds: the letter after the instance ID.
const (
	kindSession     = 's'
	kindParticipant = 'p'
	kindConnection  = 'c'
	kindConference  = 'f'
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns an opaque ID that starts with the instance ID, so that any
// instance behind a load balancer can tell whose object it is.
func newID(instance string, kind byte) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return instance + "-" + string(kind) + idEncoding.EncodeToString(b[:])
}

// newInstanceID returns a random 6-letter instance ID.
func newInstanceID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])[:6]
}

// validInstanceID reports whether id can prefix IDs: 1–16 lowercase
// letters and digits.
func validInstanceID(id string) bool {
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

// replyTokens mints and checks replyIds (decision 3): a compact token that
// signs {instance, session, object, generation} with the server's secret.
type replyTokens struct {
	secret []byte
}

// sign returns the replyId naming generation gen of object oid.
func (t replyTokens) sign(sessionID, oid string, gen uint32) string {
	payload := sessionID + "|" + oid + "|" + strconv.FormatUint(uint64(gen), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + t.mac(payload)
}

func (t replyTokens) mac(payload string) string {
	m := hmac.New(sha256.New, t.secret)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// replyRef is what a verified replyId names.
type replyRef struct {
	sessionID string
	objectID  string
	gen       uint32
}

// parse verifies token and returns what it names. A malformed token or a
// bad signature is ErrNotFound, as decision 3 says.
func (t replyTokens) parse(token string) (replyRef, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 512 {
		return replyRef{}, fmt.Errorf("replyId: %w", ErrNotFound)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return replyRef{}, fmt.Errorf("replyId: %w", ErrNotFound)
	}
	payload := string(raw)
	if !hmac.Equal([]byte(t.mac(payload)), []byte(sig)) {
		return replyRef{}, fmt.Errorf("replyId signature: %w", ErrNotFound)
	}
	parts := strings.Split(payload, "|")
	if len(parts) != 3 {
		return replyRef{}, fmt.Errorf("replyId: %w", ErrNotFound)
	}
	gen, err := strconv.ParseUint(parts[2], 10, 32)
	if err != nil {
		return replyRef{}, fmt.Errorf("replyId: %w", ErrNotFound)
	}
	return replyRef{sessionID: parts[0], objectID: parts[1], gen: uint32(gen)}, nil
}

// InstanceOf returns the ID of the instance that owns an object: the
// prefix of a session, participant, connection or conference ID, or the
// instance of the object a replyId names. It returns "" for anything
// else. It checks no signature: it is for routing a request to its owner
// (scale-out, 421), not for trusting it.
func InstanceOf(id string) string {
	if body, _, ok := strings.Cut(id, "."); ok && len(id) <= 512 {
		if raw, err := base64.RawURLEncoding.DecodeString(body); err == nil {
			if parts := strings.Split(string(raw), "|"); len(parts) == 3 {
				return InstanceOf(parts[1])
			}
		}
		return ""
	}
	inst, rest, ok := strings.Cut(id, "-")
	if !ok || rest == "" || !validInstanceID(inst) {
		return ""
	}
	return inst
}
