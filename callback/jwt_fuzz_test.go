package callback

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseToken feeds the token parser arbitrary input: it never panics,
// every failure is one of its sentinels, and only the token signed with
// the secret verifies.
func FuzzParseToken(f *testing.F) {
	secret := []byte("fuzz secret")
	good, err := SignHS256(Claims{Issuer: "mediaserver", IssuedAt: time.Unix(1700000000, 0), ExpiresAt: time.Unix(1700000300, 0), Path: "/newCall", BodySHA256: BodyHash([]byte("{}"))}, secret)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, good + "x", "", ".", "..", "a.b.c", noneToken(Claims{}), "eyJhbGciOiJIUzI1NiJ9.e30.", "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.AA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := parseToken(token, keySet{secret: secret})
		if err != nil {
			if !errors.Is(err, ErrMalformedToken) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			return
		}
		if token != good {
			// Another encoding of the same signed content would need the
			// secret; base64 is decoded strictly, so nothing else verifies.
			t.Fatalf("token %q verified (claims %+v)", token, c)
		}
	})
}
