package sip

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// sessionTimer is the RFC 4028 state of a dialog.
type sessionTimer struct {
	interval   time.Duration // 0: no session timer
	weRefresh  bool
	peerTimer  bool // the peer supports "timer"
	peerUpdate bool // the peer allows UPDATE
	t          stopper
}

func (s *sessionTimer) stop() {
	if s.t != nil {
		s.t.Stop()
		s.t = nil
	}
}

func seHeader(m sip.Message) string {
	if h := firstHeader(m, "Session-Expires"); h != nil {
		return h.Value()
	}
	if h := firstHeader(m, "x"); h != nil {
		return h.Value()
	}
	return ""
}

func parseDelta(v string) (time.Duration, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func allowsMethod(m sip.Message, method string) (allows, present bool) {
	vals := headerValues(m, "Allow", "")
	for _, v := range vals {
		if strings.EqualFold(v, method) {
			return true, true
		}
	}
	return false, len(m.GetHeaders("Allow")) > 0
}

// negotiateSE applies RFC 4028 §9 to a request we answer (an INVITE, a
// re-INVITE or an UPDATE) given the dialog's current timer. A request
// without Session-Expires keeps the current timer, or starts one with the
// peer as refresher when the peer supports "timer". A Session-Expires below
// 90 s gets 422 with Min-SE; we may lower the interval to ours but not
// below the request's Min-SE. Without a refresher parameter the peer
// refreshes if it supports timers, else we do.
func negotiateSE(req *sip.Request, cur sessionTimer, ours time.Duration) (sessionTimer, *rejection) {
	st := cur
	st.t = nil
	st.peerTimer = hasOption(req, "Supported", "k", "timer") || hasOption(req, "Require", "", "timer")
	if up, present := allowsMethod(req, "UPDATE"); present {
		st.peerUpdate = up
	}
	minSE := time.Duration(0)
	if h := req.GetHeader("Min-SE"); h != nil {
		head, _, _ := headerParam(h.Value(), "")
		minSE, _ = parseDelta(head)
	}
	se := seHeader(req)
	if se == "" {
		if cur.interval > 0 {
			st.peerTimer = st.peerTimer || cur.peerTimer
			return st, nil
		}
		if !st.peerTimer {
			return sessionTimer{peerUpdate: st.peerUpdate}, nil
		}
		st.interval = max(ours, minSE, minSessionExpires)
		st.weRefresh = false
		return st, nil
	}
	head, ref, _ := headerParam(se, "refresher")
	delta, ok := parseDelta(head)
	if !ok {
		return cur, reject(400, "Bad Request (malformed Session-Expires)")
	}
	if delta < minSessionExpires {
		return cur, reject(422, "Session Interval Too Small",
			sip.NewHeader("Min-SE", strconv.Itoa(int(minSessionExpires/time.Second))))
	}
	st.interval = delta
	if ours < delta {
		st.interval = max(ours, minSE, minSessionExpires)
	}
	switch strings.ToLower(ref) {
	case "uas":
		st.weRefresh = true
	case "uac":
		st.weRefresh = !st.peerTimer
	default:
		st.weRefresh = !st.peerTimer
	}
	return st, nil
}

// responseHeaders are the RFC 4028 headers of our 2xx to the request the
// timer was negotiated on: the refresher is named from that transaction's
// roles (we are its UAS).
func (s *sessionTimer) responseHeaders() []sip.Header {
	if s.interval == 0 {
		return nil
	}
	ref := "uac"
	if s.weRefresh {
		ref = "uas"
	}
	h := []sip.Header{sip.NewHeader("Session-Expires", strconv.Itoa(int(s.interval/time.Second))+";refresher="+ref)}
	if s.peerTimer {
		h = append(h, sip.NewHeader("Require", "timer"))
	}
	return h
}

// requestHeaders are the RFC 4028 headers of a request we send: an
// outbound INVITE lets the UAS choose the refresher; a refresh names us.
func requestHeaders(interval time.Duration, refresh bool) []sip.Header {
	v := strconv.Itoa(int(interval / time.Second))
	if refresh {
		v += ";refresher=uac"
	}
	return []sip.Header{
		sip.NewHeader("Session-Expires", v),
		sip.NewHeader("Min-SE", strconv.Itoa(int(minSessionExpires/time.Second))),
	}
}

// applySEResponse reads the Session-Expires of a 2xx to a request we sent
// (RFC 4028 §7.2). For the initial INVITE no Session-Expires means no
// timer; for a refresh it keeps the current one.
func applySEResponse(res *sip.Response, cur sessionTimer, initial bool) sessionTimer {
	st := cur
	st.t = nil
	if up, present := allowsMethod(res, "UPDATE"); present {
		st.peerUpdate = up
	}
	se := seHeader(res)
	if se == "" {
		if initial {
			return sessionTimer{peerUpdate: st.peerUpdate}
		}
		return st
	}
	head, ref, _ := headerParam(se, "refresher")
	delta, ok := parseDelta(head)
	if !ok || delta < minSessionExpires {
		return st
	}
	st.interval = delta
	st.weRefresh = !strings.EqualFold(ref, "uas")
	st.peerTimer = st.peerTimer || hasOption(res, "Require", "", "timer") || hasOption(res, "Supported", "k", "timer")
	return st
}

// armSessionTimerLocked schedules our refresh at half the interval, or the
// expiry check at interval - min(32 s, interval/3) when the peer refreshes
// (RFC 4028 §10).
func (c *call) armSessionTimerLocked() {
	c.st.stop()
	if c.st.interval == 0 || c.state != csConfirmed {
		return
	}
	if c.st.weRefresh {
		c.st.t = c.a.afterFunc(c.st.interval/2, c.refreshSession)
		return
	}
	d := c.st.interval - min(32*time.Second, c.st.interval/3)
	c.st.t = c.a.afterFunc(d, c.sessionExpired)
}

// sessionExpired: the peer did not refresh in time.
func (c *call) sessionExpired() {
	if c.ended() {
		return
	}
	c.log.Info("sip: session expired without refresh")
	c.sendBye()
	c.end(EndReason{Cause: EndSessionExpired, Err: fmt.Errorf("sip: no session refresh: %w", ErrTimeout)}, true)
}

// refreshSession sends our refresh: UPDATE when the peer allows it, else a
// re-INVITE with our unchanged SDP.
func (c *call) refreshSession() {
	c.mu.Lock()
	if c.state != csConfirmed {
		c.mu.Unlock()
		return
	}
	if c.uacPending || c.pend != nil {
		c.st.t = c.a.afterFunc(c.a.t2, c.refreshSession) // a transaction is in progress
		c.mu.Unlock()
		return
	}
	c.uacPending = true
	method := sip.UPDATE
	var body []byte
	if !c.st.peerUpdate {
		method = sip.INVITE
		body = c.lsdp.render(c.lsdp.rest)
	}
	hdrs := requestHeaders(c.st.interval, true)
	local, pol := c.local, c.srtp
	c.mu.Unlock()
	ok := c.a.goBackground(func() {
		res, err := c.request(c.a.ctx, method, body, hdrs...)
		c.mu.Lock()
		c.uacPending = false
		c.mu.Unlock()
		c.refreshDone(res, err, local, pol)
	})
	if !ok {
		c.mu.Lock()
		c.uacPending = false
		c.mu.Unlock()
	}
}

func (c *call) refreshDone(res *sip.Response, err error, local LocalMedia, pol srtpPolicy) {
	switch {
	case err != nil:
		c.log.Info("sip: session refresh failed", keyErr, err)
		cause := EndSessionExpired
		if errors.Is(err, ErrTransport) {
			cause = EndTransport
		}
		c.sendBye()
		c.end(EndReason{Cause: cause, Err: err}, true)
	case res.IsSuccess():
		c.mu.Lock()
		c.st = applySEResponse(res, c.st, false)
		c.armSessionTimerLocked()
		old := c.remote
		c.mu.Unlock()
		if body, _ := sdpBody(res); len(body) > 0 {
			if m, err := answerFromMessage(res, local, pol); err == nil && !sameMedia(m, old) {
				c.mu.Lock()
				c.remote = m
				c.srtp.answered(m)
				c.mu.Unlock()
				c.emit(func(h DialogHandler) { h.OnMedia(m) })
			}
		}
	case res.StatusCode == 491:
		// Glare: try again after 2.1 to 4 s (RFC 3261 §14.1).
		c.mu.Lock()
		if c.state == csConfirmed {
			c.st.t = c.a.afterFunc(2100*time.Millisecond+rand.N(1900*time.Millisecond), c.refreshSession)
		}
		c.mu.Unlock()
	case res.StatusCode == 422:
		c.mu.Lock()
		if h := res.GetHeader("Min-SE"); h != nil {
			head, _, _ := headerParam(h.Value(), "")
			if d, ok := parseDelta(head); ok && d > c.st.interval && d <= time.Hour {
				c.st.interval = d
				c.st.t = c.a.afterFunc(0, c.refreshSession)
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		fallthrough
	default:
		c.log.Info("sip: session refresh rejected", keyStatus, res.StatusCode)
		c.sendBye()
		c.end(EndReason{Cause: EndSessionExpired, Err: &StatusError{Code: res.StatusCode, Reason: res.Reason}}, true)
	}
}
