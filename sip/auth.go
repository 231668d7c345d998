package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// authCache answers digest challenges (RFC 3261 §22, RFC 2617) with a
// trunk's credentials for every request of a call: the INVITE, its
// retries, and later BYE, re-INVITE and UPDATE. It keeps the last
// WWW-Authenticate and Proxy-Authenticate challenges apart, so a request
// challenged by both a proxy (407) and the registrar (401) carries both
// answers, and it counts nonce uses (nc). Guarded by the call's mutex.
type authCache struct {
	user, pass string
	www, proxy *challenge
}

type challenge struct {
	ch    *digest.Challenge
	nc    int
	fresh bool // received during the current request sequence
}

func newAuthCache(t *Trunk) *authCache {
	if t == nil || t.Username == "" {
		return nil
	}
	return &authCache{user: t.Username, pass: t.Password}
}

// begin starts a request sequence (a request and its retries): cached
// challenges are answered once more before they count as refused.
func (ac *authCache) begin() {
	for _, c := range []*challenge{ac.www, ac.proxy} {
		if c != nil {
			c.fresh = false
		}
	}
}

// update records the challenge of a 401 or 407 and reports whether the
// request should be retried: not when the challenge cannot be answered, or
// when this sequence already answered a challenge of the same kind (the
// credentials were refused), unless the server says the nonce was stale
// (stale=true).
func (ac *authCache) update(res *sip.Response) bool {
	name, slot := "WWW-Authenticate", &ac.www
	if res.StatusCode == 407 {
		name, slot = "Proxy-Authenticate", &ac.proxy
	}
	var ch *digest.Challenge
	for _, h := range res.GetHeaders(name) {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			continue
		}
		c.Algorithm = strings.ToUpper(c.Algorithm)
		for i := range c.QOP {
			c.QOP[i] = strings.TrimSpace(c.QOP[i])
		}
		if digest.CanDigest(c) {
			ch = c
			break
		}
	}
	if ch == nil {
		return false
	}
	if prev := *slot; prev != nil && prev.fresh && !ch.Stale {
		return false // our credentials were refused
	}
	*slot = &challenge{ch: ch, fresh: true}
	return true
}

// apply adds Authorization and Proxy-Authorization for req's method and
// Request-URI.
func (ac *authCache) apply(req *sip.Request) {
	for _, x := range []struct {
		c    *challenge
		name string
	}{{ac.proxy, "Proxy-Authorization"}, {ac.www, "Authorization"}} {
		if x.c == nil {
			continue
		}
		x.c.nc++
		cred, err := digest.Digest(x.c.ch, digest.Options{
			Method:   string(req.Method),
			URI:      req.Recipient.String(),
			Username: ac.user,
			Password: ac.pass,
			Count:    x.c.nc,
		})
		if err != nil {
			continue
		}
		for req.RemoveHeader(x.name) {
		}
		req.AppendHeader(sip.NewHeader(x.name, cred.String()))
	}
}
