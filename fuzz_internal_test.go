package mediaserver

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzReplyToken: parsing never panics; anything that parses was signed
// by us (so a fuzzed token parses only when it round-trips); tampering
// with a signed token is ErrNotFound.
func FuzzReplyToken(f *testing.F) {
	tok := replyTokens{secret: []byte("fuzz-secret")}
	f.Add("s1", "abcdef-pxyz", uint32(1), "")
	f.Add("", "abcdef-fconf", uint32(7), "x")
	f.Add("a|b", "c|d", uint32(0), ".")
	f.Fuzz(func(t *testing.T, session, object string, gen uint32, junk string) {
		if strings.Contains(session, "|") || strings.Contains(object, "|") {
			session, object = strings.ReplaceAll(session, "|", ""), strings.ReplaceAll(object, "|", "")
		}
		signed := tok.sign(session, object, gen)
		ref, err := tok.parse(signed)
		if err != nil || ref.sessionID != session || ref.objectID != object || ref.gen != gen {
			if len(signed) <= 512 {
				t.Fatalf("round trip of %q %q %d: %+v, %v", session, object, gen, ref, err)
			}
		}
		if junk != "" {
			bad := signed + junk
			if r, err := tok.parse(bad); err == nil && bad != signed {
				t.Fatalf("tampered token %q parsed: %+v", bad, r)
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("error %v is not ErrNotFound", err)
			}
		}
		if _, err := tok.parse(junk); err == nil {
			t.Fatalf("unsigned junk %q parsed", junk)
		}
	})
}

// FuzzProtocolJSON: the answers an application sends decode without
// panicking, and what decodes re-encodes to an equal value.
func FuzzProtocolJSON(f *testing.F) {
	for _, s := range []string{
		`{"action":"call","destAddr":"sip:b@x","callRecording":true,"fileName":"r","dropReason":"486"}`,
		`{"dtmf":{},"phrases":[{"format":"awstts","awsTTSParameters":{"Text":"hi","VoiceId":"Joanna"}}],"hangup":true,"getIVRCommandAfter":2.5}`,
		`{"action":"joinconferenceconnection","connectionId":"c"}`,
		`{"dropReason":603}`, `{}`, `[]`, `null`, `{"action":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Action
		if json.Unmarshal(data, &a) == nil {
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatalf("re-encode %+v: %v", a, err)
			}
			var a2 Action
			if err := json.Unmarshal(b, &a2); err != nil || !reflect.DeepEqual(a, a2) {
				t.Fatalf("round trip of %s: %+v != %+v (%v)", b, a, a2, err)
			}
		}
		var c IvrCommand
		if json.Unmarshal(data, &c) == nil {
			if _, err := json.Marshal(c); err != nil {
				t.Fatalf("re-encode %+v: %v", c, err)
			}
			_ = toIvrCommand(c) // converting never panics, whatever the numbers
		}
	})
}
