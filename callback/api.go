package callback

import (
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

// APIConfig configures the REST API. The zero value of each field means
// its default; NewAPI copies it and never changes it afterwards.
type APIConfig struct {
	// Server executes the operations. Required.
	Server *mediaserver.Server

	// Token, when set, is a static bearer token that authorises every
	// request ("Authorization: Bearer <Token>").
	Token string
	// JWTPublicKey, when set, verifies RS256 JWT bearer tokens (API.md
	// §2.3): exp is required, iat must not lie in the future, and a domain
	// claim must equal the request's domain (else 403). With neither Token
	// nor JWTPublicKey every request is served without authentication.
	JWTPublicKey *rsa.PublicKey
	// JWTLeeway is the clock skew tolerated on exp and iat. Default
	// DefaultLeeway.
	JWTLeeway time.Duration

	// Domain is the default domain: paths without a /{domain}/ prefix act
	// on it. When set, a prefixed path must name it (else 404 notFound);
	// when empty, any domain is accepted.
	Domain string
	// BasePath, when set (e.g. "/mediaservice"), prefixes every path the
	// API serves, operator paths included.
	BasePath string

	// Peers maps the instance IDs of the other instances behind the same
	// SIP load balancer to their API base URLs (their
	// mediaserver.Config.APIBaseURL). A request whose replyId or other IDs
	// belong to another instance is answered 421 misdirected, with that
	// instance's URL as apiBaseUrl when Peers has it and without one
	// otherwise; it never reaches the Server. This instance's own ID may
	// be listed, so every instance can share one list.
	Peers map[string]string

	// MaxBodySize bounds JSON request bodies. Default 64 KiB.
	MaxBodySize int64
	// MaxPromptSize bounds prompt uploads (PUT /promptfile). Default 64 MiB.
	MaxPromptSize int64
	// UploadIdleTimeout abandons a prompt upload whose client sends
	// nothing for this long (a stalled or dead client would otherwise hold
	// a connection and a temp file for ever). Default 30 s.
	UploadIdleTimeout time.Duration

	// Metrics, when set, serves GET /metrics without authentication.
	Metrics http.Handler
	// Readyz, when set, replaces the built-in GET /readyz, which answers
	// 200 once the server's listeners are bound and until Drain is called,
	// and 503 otherwise.
	Readyz http.Handler
	// Sessions, when set, replaces the built-in /sessions and
	// /sessions/{sessionId} (behind authentication), which list the
	// sessions whose call-flow diagrams the server keeps and send one as
	// Mermaid text.
	Sessions http.Handler

	// AllowOrigin is the Access-Control-Allow-Origin of every answer.
	// Default "*".
	AllowOrigin string
	// Logger receives request failures (Error for 500s, Debug for the
	// rest). Default slog.Default().
	Logger *slog.Logger
}

// API serves the REST API of API.md §3 over a *mediaserver.Server, plus
// the operator paths /healthz, /readyz, /metrics, /openapi.json and
// /sessions/ (decision 19). Every operation is served at /op and at
// /{domain}/op. An operation whose IDs belong to another instance is
// answered 421 misdirected, with the owner's base URL when
// APIConfig.Peers knows it. It is an http.Handler, safe for concurrent
// use.
type API struct {
	cfg      APIConfig
	srv      *mediaserver.Server
	ops      *http.ServeMux // /{domain}/op patterns only
	operator *http.ServeMux // chosen by the first path segment
	log      *slog.Logger
	draining atomic.Bool
}

// Operator paths, routed by their first segment (decision 19).
var operatorSegments = map[string]bool{
	"healthz": true, "readyz": true, "metrics": true, "openapi.json": true, "sessions": true,
}

// opSegments are the operation names: a path starting with one has no
// domain prefix.
var opSegments = map[string]bool{
	"placeivrcall": true, "splitconnection": true, "connect": true, "createconferenceconnection": true,
	"hangupparticipant": true, "interruptivrcommand": true, "startrecording": true, "stoprecording": true,
	"muteparticipant": true, "unmuteparticipant": true, "promptfile": true,
}

// NewAPI checks cfg and returns the API.
func NewAPI(cfg APIConfig) (*API, error) {
	if cfg.Server == nil {
		return nil, errors.New("callback: api config Server: required")
	}
	if cfg.JWTLeeway <= 0 {
		cfg.JWTLeeway = DefaultLeeway
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = 64 << 10
	}
	if cfg.UploadIdleTimeout <= 0 {
		cfg.UploadIdleTimeout = 30 * time.Second
	}
	if cfg.MaxPromptSize <= 0 {
		cfg.MaxPromptSize = 64 << 20
	}
	if cfg.AllowOrigin == "" {
		cfg.AllowOrigin = "*"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.BasePath = strings.TrimRight(cfg.BasePath, "/")
	if cfg.BasePath != "" && !strings.HasPrefix(cfg.BasePath, "/") {
		return nil, fmt.Errorf("callback: api config BasePath %q: must start with /", cfg.BasePath)
	}
	peers, err := checkPeers(cfg.Peers)
	if err != nil {
		return nil, err
	}
	cfg.Peers = peers
	a := &API{cfg: cfg, srv: cfg.Server, log: cfg.Logger.With("component", "api")}
	a.routeOps()
	a.routeOperator()
	return a, nil
}

// Drain makes the built-in /readyz answer 503 from now on, so that load
// balancers stop sending new work; call it when shutdown starts.
func (a *API) Drain() { a.draining.Store(true) }

// CORS preflight answers (API.md §2.1, R12).
const (
	corsMethods = "GET, PUT, POST, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type"
)

// ServeHTTP routes a request: CORS preflight, operator paths, then the
// operations behind authentication.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", a.cfg.AllowOrigin)
	rw := &statusWriter{ResponseWriter: w}
	start := time.Now()
	a.route(rw, r)
	a.log.LogAttrs(r.Context(), slog.LevelDebug, "api request", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", rw.status), slog.Duration("duration", time.Since(start)))
}

func (a *API) route(w http.ResponseWriter, r *http.Request) {
	esc := r.URL.EscapedPath()
	if a.cfg.BasePath != "" {
		rest, ok := strings.CutPrefix(esc, a.cfg.BasePath)
		if !ok || (rest != "" && rest[0] != '/') {
			writeError(w, http.StatusNotFound, codeNotFound, "no such path")
			return
		}
		esc = rest
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", corsMethods)
		w.Header().Set("Access-Control-Allow-Headers", corsHeaders)
		w.Header().Set("Access-Control-Max-Age", "600")
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	p, err := url.PathUnescape(esc)
	if err != nil || !cleanPath(p) {
		writeError(w, http.StatusBadRequest, codeInvalidRequest, "path is not clean (empty, . or .. segments)")
		return
	}
	firstEsc, restEsc, _ := strings.Cut(strings.TrimPrefix(esc, "/"), "/")
	first, _ := url.PathUnescape(firstEsc)
	if operatorSegments[first] {
		if first == "sessions" && !a.authorize(w, r, a.cfg.Domain) {
			return
		}
		a.operator.ServeHTTP(w, withPath(r, esc))
		return
	}
	domain := first
	if opSegments[first] {
		domain = a.cfg.Domain
		seg := domain
		if seg == "" {
			seg = defaultDomainSegment
		}
		esc = "/" + url.PathEscape(seg) + esc
	} else {
		if restEsc == "" {
			writeError(w, http.StatusNotFound, codeNotFound, "no such operation")
			return
		}
	}
	if !a.authorize(w, r, domain) {
		return
	}
	if a.cfg.Domain != "" && domain != a.cfg.Domain {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("unknown domain %q", domain))
		return
	}
	r = withPath(r, esc)
	if _, pattern := a.ops.Handler(r); pattern == "" {
		writeError(w, http.StatusNotFound, codeNotFound, "no such operation")
		return
	}
	a.ops.ServeHTTP(w, r)
}

// defaultDomainSegment stands for the default domain in a rewritten path
// when APIConfig.Domain is empty.
const defaultDomainSegment = "_"

// cleanPath reports whether the decoded path p is absolute and has no
// empty, "." or ".." segments; a ".." inside an escaped segment ("..%2F")
// counts too.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if p == "/" {
		return true
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// withPath returns r with the escaped URL path esc.
func withPath(r *http.Request, esc string) *http.Request {
	if esc == r.URL.EscapedPath() {
		return r
	}
	p, _ := url.PathUnescape(esc)
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = p, esc
	r2.URL = &u
	return r2
}

// authorize checks the request's credentials (API.md §2.3) and answers 401
// or 403 when they fail. domain is the domain the request acts on.
func (a *API) authorize(w http.ResponseWriter, r *http.Request, domain string) bool {
	if a.cfg.Token == "" && a.cfg.JWTPublicKey == nil {
		return true
	}
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		a.unauthorized(w, r, ErrNoToken)
		return false
	}
	if a.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.cfg.Token)) == 1 {
		return true
	}
	if a.cfg.JWTPublicKey == nil {
		a.unauthorized(w, r, ErrBadSignature)
		return false
	}
	c, err := parseToken(token, keySet{pub: a.cfg.JWTPublicKey})
	if err == nil {
		err = c.checkTime(time.Now(), a.cfg.JWTLeeway)
	}
	if err != nil {
		a.unauthorized(w, r, err)
		return false
	}
	if c.Domain != "" && c.Domain != domain {
		a.log.Debug("api: forbidden", "path", r.URL.Path, "tokenDomain", c.Domain, "domain", domain)
		writeJSON(w, http.StatusForbidden, authError{Message: "Forbidden"})
		return false
	}
	return true
}

func (a *API) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Debug("api: unauthorized", "path", r.URL.Path, logErr, err)
	w.Header().Set("WWW-Authenticate", `Bearer realm="mediaserver"`)
	writeJSON(w, http.StatusUnauthorized, authError{Message: "Unauthorized"})
}

// authError is the body of 401 and 403 (API.md §2.2).
type authError struct {
	Message string `json:"message"`
}

// statusWriter records the status of an answer for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// ReadFrom keeps the underlying writer's sendfile path for prompt
// downloads.
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return io.Copy(s.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
