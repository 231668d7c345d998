package callback

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// The small JWS (RFC 7515) / JWT (RFC 7519) subset this package needs:
// compact serialisation, RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518
// §3.3) and HS256 (HMAC SHA-256, RFC 7518 §3.2). The verifier is told which
// algorithms its keys allow and never lets the token choose ("alg": "none"
// and RS256/HS256 confusion are refused).

// maxTokenSize bounds a token before any decoding.
const maxTokenSize = 8 << 10

// Algorithm names of the JWS header.
const (
	algRS256 = "RS256"
	algHS256 = "HS256"
)

// Claims are the JWT claims this package signs and checks. Callback tokens
// (API.md §2.4, decision 17) carry Issuer, IssuedAt, ExpiresAt, Path,
// BodySHA256 and, when configured, Domain. REST API tokens (API.md §2.3)
// need ExpiresAt; IssuedAt, Domain and Subject are optional.
type Claims struct {
	// Issuer is "iss".
	Issuer string
	// Subject is "sub".
	Subject string
	// IssuedAt is "iat"; zero when absent.
	IssuedAt time.Time
	// ExpiresAt is "exp"; a token without it never verifies.
	ExpiresAt time.Time
	// Path is "path": the callback path, e.g. "/getIvrCommand".
	Path string
	// BodySHA256 is "bodySha256": base64url (no padding) of the SHA-256 of
	// the exact body bytes.
	BodySHA256 string
	// Domain is "domain": the tenant domain.
	Domain string
}

// wireClaims is Claims as JSON; NumericDate may be fractional (RFC 7519 §2).
type wireClaims struct {
	Issuer     string   `json:"iss,omitempty"`
	Subject    string   `json:"sub,omitempty"`
	IssuedAt   *float64 `json:"iat,omitempty"`
	ExpiresAt  *float64 `json:"exp,omitempty"`
	Path       string   `json:"path,omitempty"`
	BodySHA256 string   `json:"bodySha256,omitempty"`
	Domain     string   `json:"domain,omitempty"`
}

type header struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ,omitempty"`
	Crit json.RawMessage `json:"crit,omitempty"`
}

// BodyHash returns the bodySha256 claim of body: base64url without padding
// of its SHA-256.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SignRS256 returns a compact JWT of c signed RS256 with key. Applications
// use it to mint REST API tokens (API.md §2.3); the Handler uses it to sign
// callbacks.
func SignRS256(c Claims, key *rsa.PrivateKey) (string, error) {
	if key == nil {
		return "", errors.New("callback: sign RS256: no key")
	}
	input, err := signingInput(algRS256, c)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("callback: sign RS256: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// SignHS256 returns a compact JWT of c signed HS256 with secret.
func SignHS256(c Claims, secret []byte) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("callback: sign HS256: no secret")
	}
	input, err := signingInput(algHS256, c)
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(hmacSHA256(secret, input)), nil
}

func hmacSHA256(secret []byte, input string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return m.Sum(nil)
}

func signingInput(alg string, c Claims) (string, error) {
	h, err := json.Marshal(header{Alg: alg, Typ: "JWT"})
	if err != nil {
		return "", fmt.Errorf("callback: sign: %w", err)
	}
	w := wireClaims{Issuer: c.Issuer, Subject: c.Subject, Path: c.Path, BodySHA256: c.BodySHA256, Domain: c.Domain}
	if !c.IssuedAt.IsZero() {
		v := float64(c.IssuedAt.Unix())
		w.IssuedAt = &v
	}
	if !c.ExpiresAt.IsZero() {
		v := float64(c.ExpiresAt.Unix())
		w.ExpiresAt = &v
	}
	p, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("callback: sign: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p), nil
}

// keySet is what a verifier accepts: RS256 with pub, HS256 with secret.
type keySet struct {
	pub    *rsa.PublicKey
	secret []byte
}

// parseToken checks the signature of a compact JWS and decodes its claims.
// It does not check times or claims' values.
func parseToken(token string, keys keySet) (Claims, error) {
	if len(token) > maxTokenSize {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedToken, maxTokenSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("%w: want 3 parts, got %d", ErrMalformedToken, len(parts))
	}
	var h header
	if err := decodeSegment(parts[0], &h); err != nil {
		return Claims{}, fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	if len(h.Crit) > 0 {
		return Claims{}, fmt.Errorf("%w: unsupported crit header", ErrMalformedToken)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature: %w", ErrMalformedToken, err)
	}
	input := parts[0] + "." + parts[1]
	switch {
	case h.Alg == algRS256 && keys.pub != nil:
		sum := sha256.Sum256([]byte(input))
		if rsa.VerifyPKCS1v15(keys.pub, crypto.SHA256, sum[:], sig) != nil {
			return Claims{}, ErrBadSignature
		}
	case h.Alg == algHS256 && len(keys.secret) > 0:
		if !hmac.Equal(sig, hmacSHA256(keys.secret, input)) {
			return Claims{}, ErrBadSignature
		}
	case keys.pub == nil && len(keys.secret) == 0:
		return Claims{}, fmt.Errorf("%w: no verification key configured", ErrBadSignature)
	default:
		return Claims{}, fmt.Errorf("%w: algorithm %q not accepted", ErrMalformedToken, h.Alg)
	}
	var w wireClaims
	if err := decodeSegment(parts[1], &w); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %w", ErrMalformedToken, err)
	}
	c := Claims{Issuer: w.Issuer, Subject: w.Subject, Path: w.Path, BodySHA256: w.BodySHA256, Domain: w.Domain}
	if c.IssuedAt, err = numericDate(w.IssuedAt); err != nil {
		return Claims{}, err
	}
	if c.ExpiresAt, err = numericDate(w.ExpiresAt); err != nil {
		return Claims{}, err
	}
	return c, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func numericDate(v *float64) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	if math.IsNaN(*v) || *v < 0 || *v > 1e11 {
		return time.Time{}, fmt.Errorf("%w: bad NumericDate %v", ErrMalformedToken, *v)
	}
	sec, frac := math.Modf(*v)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// checkTime checks exp (required) and iat (optional) against now with
// leeway either side.
func (c Claims) checkTime(now time.Time, leeway time.Duration) error {
	if c.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: no exp claim", ErrExpired)
	}
	if now.After(c.ExpiresAt.Add(leeway)) {
		return fmt.Errorf("%w: expired at %s", ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(leeway)) {
		return fmt.Errorf("%w: issued in the future (%s)", ErrExpired, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(authorization string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
