package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// result is the outcome of one attempt (primary, then maybe fallback).
type result struct {
	answer []byte // the body, when kept
	url    string // the URL that answered last
	err    error
	retry  bool // the failure may pass on another attempt
}

// try makes one attempt at a callback within ctx: the primary URL, and the
// fallback URL when the primary did not take it. keep says whether the
// answer's body is wanted.
func (h *Handler) try(ctx context.Context, path string, body []byte, apiBase string, attempt int, keep bool) result {
	if h.cfg.FallbackURL == "" {
		return h.send(ctx, h.cfg.BaseURL, path, body, apiBase, attempt, keep)
	}
	primary := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		primary, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)*2/3))
		defer cancel()
	}
	res := h.send(primary, h.cfg.BaseURL, path, body, apiBase, attempt, keep)
	if res.err == nil || !res.retry || ctx.Err() != nil {
		return res
	}
	fb := h.send(ctx, h.cfg.FallbackURL, path, body, apiBase, attempt, keep)
	if fb.err != nil {
		fb.err = fmt.Errorf("%w; fallback %w", res.err, fb.err)
	}
	return fb
}

// send POSTs one callback to one base URL.
func (h *Handler) send(ctx context.Context, base, path string, body []byte, apiBase string, attempt int, keep bool) result {
	u := base + path
	res := result{url: u}
	fail := func(status int, err error) result {
		de := &DeliveryError{URL: u, StatusCode: status, Attempt: attempt, Err: err}
		res.err, res.retry = de, de.retryable()
		return res
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fail(0, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mediaserver-callback")
	if apiBase == "" || h.cfg.APIBaseURL != "" {
		apiBase = h.cfg.APIBaseURL
	}
	if apiBase != "" {
		req.Header.Set(HeaderAPIBaseURL, apiBase)
	}
	if auth, err := h.token(path, body); err != nil {
		return fail(0, err)
	} else if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(0, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, h.cfg.MaxAnswerSize))
		return fail(resp.StatusCode, nil)
	}
	if !keep {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, h.cfg.MaxAnswerSize))
		return res
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, h.cfg.MaxAnswerSize+1))
	switch {
	case err != nil:
		return fail(resp.StatusCode, fmt.Errorf("reading the answer: %w", err))
	case int64(len(b)) > h.cfg.MaxAnswerSize:
		res.err = answerError(u, "answer larger than %d bytes", h.cfg.MaxAnswerSize)
		return res
	}
	res.answer = b
	return res
}

// token returns the bearer token of a callback, or "" when unsigned.
func (h *Handler) token(path string, body []byte) (string, error) {
	if h.cfg.SigningKey == nil && len(h.cfg.Secret) == 0 {
		return "", nil
	}
	now := time.Now()
	c := Claims{
		Issuer:     h.cfg.Issuer,
		IssuedAt:   now,
		ExpiresAt:  now.Add(h.cfg.TokenLifetime),
		Path:       path,
		BodySHA256: BodyHash(body),
		Domain:     h.cfg.Domain,
	}
	if h.cfg.SigningKey != nil {
		return SignRS256(c, h.cfg.SigningKey)
	}
	return SignHS256(c, h.cfg.Secret)
}
