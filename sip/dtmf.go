package sip

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
)

// errNoDTMF means an INFO body carries no digit we understand; the INFO is
// still answered 200.
var errNoDTMF = errors.New("sip: no dtmf in info body")

// maxDTMFBody bounds the INFO bodies we inspect.
const maxDTMFBody = 1024

// parseINFODTMF extracts a digit from an INFO body: application/dtmf-relay
// ("Signal=5\r\nDuration=160", the Cisco format most gateways send) or
// application/dtmf ("5"), RFC 4733's event names. Digits are 0-9, *, #,
// A-D; event codes 10 and 11 are read as * and #, 12-15 as A-D. The
// duration is 0 when absent. It never panics on any input.
func parseINFODTMF(contentType string, body []byte) (byte, time.Duration, error) {
	if len(body) > maxDTMFBody {
		return 0, 0, errNoDTMF
	}
	mt, _, _ := strings.Cut(contentType, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "application/dtmf-relay":
		return parseDTMFRelay(body)
	case "application/dtmf":
		d, ok := dtmfDigit(string(bytes.TrimSpace(body)))
		if !ok {
			return 0, 0, errNoDTMF
		}
		return d, 0, nil
	}
	return 0, 0, errNoDTMF
}

func parseDTMFRelay(body []byte) (byte, time.Duration, error) {
	var digit byte
	var dur time.Duration
	found := false
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			continue
		}
		key := strings.ToLower(string(bytes.TrimSpace(k)))
		val := string(bytes.TrimSpace(v))
		switch key {
		case "signal":
			d, ok := dtmfDigit(val)
			if !ok {
				return 0, 0, errNoDTMF
			}
			digit, found = d, true
		case "duration":
			if ms, err := strconv.ParseUint(val, 10, 32); err == nil && ms <= 60000 {
				dur = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if !found {
		return 0, 0, errNoDTMF
	}
	return digit, dur, nil
}

// dtmfDigit maps a signal value to its digit character.
func dtmfDigit(s string) (byte, bool) {
	if len(s) == 1 {
		c := s[0]
		switch {
		case c >= '0' && c <= '9', c == '*', c == '#':
			return c, true
		case c >= 'A' && c <= 'D':
			return c, true
		case c >= 'a' && c <= 'd':
			return c - 'a' + 'A', true
		}
		return 0, false
	}
	switch s {
	case "10":
		return '*', true
	case "11":
		return '#', true
	case "12", "13", "14", "15":
		return 'A' + s[1] - '2', true
	}
	return 0, false
}
