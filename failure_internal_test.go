package mediaserver

import (
	"fmt"
	"testing"

	"github.com/mediaserver-go/mediaserver/sip"
)

// TestFailureOf checks the failure mapping of decision 13.
func TestFailureOf(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   int
		reason string
	}{
		{&sip.StatusError{Code: 486}, 486, ReasonBusy},
		{&sip.StatusError{Code: 600}, 600, ReasonBusy},
		{&sip.StatusError{Code: 408}, 408, ReasonNoAnswer},
		{&sip.StatusError{Code: 480}, 480, ReasonNoAnswer},
		{&sip.StatusError{Code: 403}, 403, ReasonRejected},
		{&sip.StatusError{Code: 603}, 603, ReasonRejected},
		{&sip.StatusError{Code: 404}, 404, ReasonUnreachable},
		{&sip.StatusError{Code: 484}, 484, ReasonUnreachable},
		{&sip.StatusError{Code: 503}, 503, ReasonUnreachable},
		{fmt.Errorf("ring: %w", sip.ErrNoAnswer), 408, ReasonNoAnswer},
		{fmt.Errorf("timer B: %w", sip.ErrTimeout), 408, ReasonUnreachable},
		{fmt.Errorf("dial: %w", sip.ErrTransport), 503, ReasonUnreachable},
	} {
		code, reason := failureOf(tc.err)
		if code != tc.code || reason != tc.reason {
			t.Errorf("%v: %d %s, want %d %s", tc.err, code, reason, tc.code, tc.reason)
		}
	}
}
