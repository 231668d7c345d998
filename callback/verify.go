package callback

import (
	"crypto/rsa"
	"crypto/subtle"
	"fmt"
	"net/http"
	"path"
	"time"
)

// DefaultLeeway is the clock skew Verify and the REST API's JWT check
// tolerate when VerifyOptions.Leeway or APIConfig.JWTLeeway is zero.
const DefaultLeeway = 30 * time.Second

// VerifyOptions says how Verify checks a callback. Set PublicKey (RS256)
// or Secret (HS256), or both to accept either algorithm.
type VerifyOptions struct {
	// PublicKey verifies RS256 tokens: the public half of the Handler's
	// Config.SigningKey.
	PublicKey *rsa.PublicKey
	// Secret verifies HS256 tokens: the Handler's Config.Secret.
	Secret []byte
	// Path is the path claim expected, e.g. "/newCall". Default: "/"
	// followed by the last segment of the request's URL path, so an
	// application that serves its callbacks under any prefix needs no
	// setting.
	Path string
	// Issuer, when set, must equal the iss claim.
	Issuer string
	// Leeway is the clock skew tolerated on exp and iat. Default
	// DefaultLeeway.
	Leeway time.Duration

	now func() time.Time // tests
}

// Verify checks that a callback request came from a mediaserver Handler
// configured with the matching key (decision 17, API.md §2.4): the
// Authorization bearer token's signature, its validity window (exp, iat,
// with leeway), its path claim against the request's path, and its
// bodySha256 claim against body, which must be the exact bytes of the
// request body (the caller reads it; Verify does not touch r.Body).
//
// It returns the token's claims, or an error wrapping ErrNoToken,
// ErrMalformedToken, ErrBadSignature, ErrExpired, ErrIssuerMismatch,
// ErrPathMismatch or ErrBodyMismatch. It is safe for concurrent use.
func Verify(r *http.Request, body []byte, opts VerifyOptions) (Claims, error) {
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return Claims{}, ErrNoToken
	}
	c, err := parseToken(token, keySet{pub: opts.PublicKey, secret: opts.Secret})
	if err != nil {
		return Claims{}, err
	}
	now := time.Now
	if opts.now != nil {
		now = opts.now
	}
	leeway := opts.Leeway
	if leeway <= 0 {
		leeway = DefaultLeeway
	}
	if err := c.checkTime(now(), leeway); err != nil {
		return Claims{}, err
	}
	if opts.Issuer != "" && c.Issuer != opts.Issuer {
		return Claims{}, fmt.Errorf("%w: %q", ErrIssuerMismatch, c.Issuer)
	}
	want := opts.Path
	if want == "" {
		want = "/" + path.Base(r.URL.Path)
	}
	if c.Path != want {
		return Claims{}, fmt.Errorf("%w: token for %q, request to %q", ErrPathMismatch, c.Path, want)
	}
	if subtle.ConstantTimeCompare([]byte(c.BodySHA256), []byte(BodyHash(body))) != 1 {
		return Claims{}, ErrBodyMismatch
	}
	return c, nil
}
