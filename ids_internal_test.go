package mediaserver

import "testing"

func TestInstanceOf(t *testing.T) {
	tok := replyTokens{secret: []byte("k")}
	for _, tc := range []struct{ id, want string }{
		{newID("abc1", kindSession), "abc1"},
		{newID("zz9", kindParticipant), "zz9"},
		{tok.sign("abc1-sxx", "qq7-pyyy", 3), "qq7"},
		{tok.sign("", "f00-fconf", 1), "f00"},
		{"nodash", ""},
		{"UPPER-pxx", ""},
		{"abc-", ""},
		{"bad.token", ""},
		{"", ""},
	} {
		if got := InstanceOf(tc.id); got != tc.want {
			t.Errorf("InstanceOf(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}
