package callback

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

// fuzzOps are the REST operations FuzzAPIRequest sends bodies to.
// placeivrcall is left out: a body the fuzzer makes valid would dial real
// SIP calls; its validation is exercised by TestAPIBadInput-style tests
// and e2e/badinput_test.go.
var fuzzOps = []string{
	"splitconnection", "connect", "createconferenceconnection", "hangupparticipant",
	"interruptivrcommand", "startrecording", "stoprecording", "muteparticipant", "unmuteparticipant",
}

// FuzzAPIRequest posts arbitrary bodies to the REST operations of a real
// Server (not serving SIP). Invariants: no panic; the status is one the
// API documents for a client's mistake (never 500: nothing a client sends
// is an internal error); every answer is a JSON object, and a failure is
// {"success":false,"error":<code>,"message":...} with a known code.
func FuzzAPIRequest(f *testing.F) {
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: mediaserver.HandlerFuncs{}, SIPAddr: "127.0.0.1:0", DataDir: f.TempDir(),
		Logger: quietLogger(), DisablePolly: true, ConferenceIdleTimeout: time.Millisecond,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	api, err := NewAPI(APIConfig{Server: srv, Token: "t", Logger: quietLogger(), MaxBodySize: 4096})
	if err != nil {
		f.Fatal(err)
	}
	for i, body := range []string{
		`{}`, ``, `null`, `[]`, `"x"`, `{"replyId":""}`, `{"replyId":"a.b.c"}`,
		`{"replyId":"x","participantId":"p-1"}`, `{"replyId":1}`, `{"participantId":["a"]}`,
		`{"sessionId":"s-00000000","callRecording":true,"filename":"../../etc/passwd"}`,
		`{"connectionId":"c-1","sessionId":"s-1","replyId":"t"}`, `{"replyId":"` + strings.Repeat("a", 5000) + `"}`,
		`{"replyId":"abc.def.ghi","participantId":"zz9-p-1"}`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`,
		"{\"replyId\":\"\u0000\"}", `{"filename":"x\u202ey.wav","callRecording":true}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	codes := map[string]bool{codeInvalidRequest: true, codeNotFound: true, codeInvalidState: true, codeInternal: true, codeMisdirected: true}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := fuzzOps[int(op)%len(fuzzOps)]
		req := httptest.NewRequest(http.MethodPost, "/"+name, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer t")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		switch w.Code {
		case 200, 400, 404, 409, 413, 421:
		default:
			t.Fatalf("%s %q: status %d %s", name, body, w.Code, w.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %q: answer is not a JSON object: %v: %s", name, body, err, w.Body)
		}
		if w.Code == 200 {
			return
		}
		if out["success"] != false {
			t.Fatalf("%s %q: failure %d without success:false: %s", name, body, w.Code, w.Body)
		}
		if c, _ := out["error"].(string); !codes[c] {
			t.Fatalf("%s %q: unknown error code in %s", name, body, w.Body)
		}
	})
}
