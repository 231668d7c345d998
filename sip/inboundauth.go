package sip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Digest algorithms (RFC 8760).
const (
	algMD5    = "MD5"
	algSHA256 = "SHA-256"
)

// DigestAlgorithm returns the name InboundAuth.Algorithms knows an
// algorithm by ("SHA-256" or "MD5"), given it in any case and with
// surrounding spaces, and whether it is one of those.
func DigestAlgorithm(name string) (string, bool) {
	switch u := strings.ToUpper(strings.TrimSpace(name)); u {
	case algSHA256, algMD5:
		return u, true
	}
	return "", false
}

// Nonce layout before base64url: issue time (Unix seconds, 8 bytes), 8
// random bytes, then the first 16 bytes of HMAC-SHA256 over the two and the
// source address (16 bytes).
const (
	nonceRandLen = 8
	nonceMACLen  = 16
	nonceLen     = 8 + nonceRandLen + nonceMACLen
	// maxNonceUses bounds the replay table; entries live as long as their
	// nonce, and only accepted credentials create them.
	maxNonceUses = 65536
	// nonceSkew tolerates nonces issued slightly in the future (clocks of
	// instances sharing a Secret).
	nonceSkew = 5 * time.Second
)

// digestServer checks the digest credentials of inbound INVITEs
// (Config.InboundAuth; RFC 3261 §22.4, RFC 2617 §3.2.2, RFC 8760). Nonces
// are stateless: they carry their issue time and are bound to the source
// address by an HMAC, so any instance with the Secret verifies them and a
// nonce is useless from another address. Accepted nonce counts are kept,
// bounded, to refuse a replayed Authorization. It is safe for concurrent
// use.
type digestServer struct {
	realm    string
	lookup   func(user string) (string, bool)
	secret   []byte
	lifetime time.Duration
	algs     []string

	lock *authLock // nil with the lockout off

	mu   sync.Mutex // guards uses
	uses map[string]nonceUse
}

type nonceUse struct {
	nc      uint64 // highest nonce count accepted; 0 for a use without qop
	expires time.Time
}

func newDigestServer(ia *InboundAuth) *digestServer {
	if ia == nil {
		return nil
	}
	lookup := ia.Lookup
	if lookup == nil {
		users := ia.Users
		lookup = func(u string) (string, bool) { p, ok := users[u]; return p, ok }
	}
	return &digestServer{realm: ia.Realm, lookup: lookup, secret: ia.Secret, lifetime: ia.NonceLifetime,
		algs: ia.Algorithms, lock: newAuthLock(ia.MaxFailures, ia.Lockout), uses: make(map[string]nonceUse)}
}

func (d *digestServer) mac(issued, rnd []byte, src netip.Addr) []byte {
	m := hmac.New(sha256.New, d.secret)
	m.Write(issued)
	m.Write(rnd)
	ip := src.Unmap().As16()
	m.Write(ip[:])
	return m.Sum(nil)[:nonceMACLen]
}

// nonce issues a nonce for src.
func (d *digestServer) nonce(now time.Time, src netip.Addr) string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.Unix()))
	_, _ = rand.Read(b[8 : 8+nonceRandLen])
	copy(b[8+nonceRandLen:], d.mac(b[:8], b[8:8+nonceRandLen], src))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// issued verifies a nonce of ours for src and returns its issue time.
func (d *digestServer) issued(nonce string, src netip.Addr, now time.Time) (time.Time, bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceLen {
		return time.Time{}, false
	}
	if !hmac.Equal(b[8+nonceRandLen:], d.mac(b[:8], b[8:8+nonceRandLen], src)) {
		return time.Time{}, false
	}
	t := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if t.After(now.Add(nonceSkew)) {
		return time.Time{}, false
	}
	return t, true
}

// challenge is the 401 with one WWW-Authenticate per algorithm.
func (d *digestServer) challenge(src netip.Addr, now time.Time, stale bool) *rejection {
	n := d.nonce(now, src)
	hdrs := make([]sip.Header, 0, len(d.algs))
	for _, alg := range d.algs {
		v := `Digest realm="` + d.realm + `", nonce="` + n + `", algorithm=` + alg + `, qop="auth"`
		if stale {
			v += ", stale=true"
		}
		hdrs = append(hdrs, sip.NewHeader("WWW-Authenticate", v))
	}
	return reject(401, "Unauthorized", hdrs...)
}

// credentials returns the first digest Authorization of req for our realm.
func (d *digestServer) credentials(req *sip.Request) (*digest.Credentials, string) {
	for _, h := range req.GetHeaders("Authorization") {
		v := h.Value()
		c, err := digest.ParseCredentials(v)
		if err != nil || c.Realm != d.realm {
			continue
		}
		return c, v
	}
	return nil, ""
}

// check verifies the credentials of an INVITE from src. It returns the
// user (also for a 403), and nil or the rejection to send: 401 with a
// fresh challenge when there are no usable credentials, the nonce is not
// ours, or the password is wrong on an expired nonce; 401 stale=true for
// right credentials on an expired or already used nonce; 403 for a wrong
// user or password on a live nonce; 400 when the digest URI is not the
// Request-URI (RFC 2617 §3.2.2.5).
func (d *digestServer) check(req *sip.Request, src netip.Addr, now time.Time) (string, *rejection) {
	c, raw := d.credentials(req)
	if c == nil || c.Userhash || c.Username == "" {
		return "", d.challenge(src, now, false)
	}
	alg := strings.ToUpper(c.Algorithm)
	if alg == "" {
		alg = algMD5
	}
	if !slices.Contains(d.algs, alg) {
		return "", d.challenge(src, now, false)
	}
	issued, ok := d.issued(c.Nonce, src, now)
	if !ok {
		return "", d.challenge(src, now, false)
	}
	nc := rawParam(raw, "nc")
	var count uint64
	switch c.QOP {
	case "":
	case "auth":
		n, err := strconv.ParseUint(nc, 16, 32)
		if err != nil || n == 0 || len(nc) != 8 || c.Cnonce == "" {
			return "", d.challenge(src, now, false)
		}
		count = n
	default:
		return "", d.challenge(src, now, false)
	}
	if !uriMatches(c.URI, req.Recipient) {
		return c.Username, reject(400, "Bad Request (digest uri is not the Request-URI)")
	}
	pass, known := d.lookup(c.Username)
	want := digestResponse(alg, c.Username, d.realm, pass, string(req.Method), c.URI, c.Nonce, nc, c.Cnonce, c.QOP)
	got := strings.ToLower(c.Response)
	right := subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 && known
	expires := issued.Add(d.lifetime)
	switch {
	case !now.Before(expires) && right:
		return c.Username, d.challenge(src, now, true)
	case !now.Before(expires):
		// A wrong password on an old nonce gets a fresh challenge, not
		// 403: whoever saw that nonce once cannot count failures for its
		// address (the lockout) by forging packets later.
		return "", d.challenge(src, now, false)
	case !right:
		return c.Username, reject(403, "Forbidden")
	case !d.use(c.Nonce, count, expires, now):
		return c.Username, d.challenge(src, now, true)
	}
	return c.Username, nil
}

// use records a use of nonce with nonce count nc (0 without qop) and
// reports whether it is new: with qop a higher count than before, without
// qop the first use (RFC 2617 §3.2.2: the count guards against replay).
func (d *digestServer) use(nonce string, nc uint64, expires, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, seen := d.uses[nonce]; seen {
		if nc == 0 || nc <= u.nc {
			return false
		}
		d.uses[nonce] = nonceUse{nc: nc, expires: expires}
		return true
	}
	if len(d.uses) >= maxNonceUses {
		for k, u := range d.uses {
			if !now.Before(u.expires) {
				delete(d.uses, k)
			}
		}
		for k := range d.uses {
			if len(d.uses) < maxNonceUses {
				break
			}
			delete(d.uses, k) // all live: forget one (it can then be replayed once)
		}
	}
	d.uses[nonce] = nonceUse{nc: nc, expires: expires}
	return true
}

// digestResponse computes the request-digest of RFC 2617 §3.2.2.1 (qop
// auth or none) with MD5 or SHA-256 (RFC 7616 §3.4.1, RFC 8760).
func digestResponse(alg, user, realm, pass, method, uri, nonce, nc, cnonce, qop string) string {
	var h hash.Hash
	if alg == algSHA256 {
		h = sha256.New()
	} else {
		h = md5.New()
	}
	hx := func(parts ...string) string {
		h.Reset()
		h.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(h.Sum(nil))
	}
	ha1 := hx(user, realm, pass)
	ha2 := hx(method, uri)
	if qop == "" {
		return hx(ha1, nonce, ha2)
	}
	return hx(ha1, nonce, nc, cnonce, qop, ha2)
}

// rawParam returns the unquoted value of an unquoted parameter (nc) of a
// credentials header as sent: the digest is computed over its text.
func rawParam(v, name string) string {
	v, _ = digest.CutPrefix(v)
	for _, p := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return ""
}

// uriMatches reports whether the digest-uri names the Request-URI (scheme,
// user, host and port; parameters may differ in form).
func uriMatches(s string, ruri sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, ruri.Scheme) && u.User == ruri.User &&
		strings.EqualFold(u.Host, ruri.Host) && u.Port == ruri.Port
}
