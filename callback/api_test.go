package callback

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestAPIBadInput sends every kind of bad request to every operation and
// checks its documented status and error code; a normal call works right
// after.
func TestAPIBadInput(t *testing.T) {
	r := newRig(t, nil, rigOptions{api: func(c *APIConfig) { c.MaxBodySize = 4096 }})
	bogusReply := "eHh4.yyyy"
	big := `{"destAddr":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
		docInvalid               bool // the document refuses the request too
		msg                      string
	}{
		{"invalid JSON", "POST", "/placeivrcall", `{"destAddr":`, 400, "invalidRequest", true, "invalid JSON"},
		{"not an object", "POST", "/splitconnection", `["a"]`, 400, "invalidRequest", true, "JSON object"},
		{"trailing garbage", "POST", "/connect", `{"replyId":"a","participantId":"b"} x`, 400, "invalidRequest", false, "invalid JSON"}, // kin-openapi ignores what follows the object
		{"missing destAddr", "POST", "/placeivrcall", `{"callerId":"x"}`, 400, "invalidRequest", true, "destAddr"},
		{"empty destAddr", "POST", "/placeivrcall", `{"destAddr":""}`, 400, "invalidRequest", true, "destAddr"},
		{"wrong type", "POST", "/placeivrcall", `{"destAddr":42}`, 400, "invalidRequest", true, "field destAddr: got a JSON number, want a string"},
		{"wrong bool", "POST", "/placeivrcall", `{"destAddr":"sip:x@127.0.0.1:9","callRecording":"yes"}`, 400, "invalidRequest", true, "callRecording"},
		{"missing split fields", "POST", "/splitconnection", `{}`, 400, "invalidRequest", true, "connectionId, replyId"},
		{"empty body", "POST", "/splitconnection", ``, 400, "invalidRequest", true, "connectionId"},
		{"missing connect fields", "POST", "/connect", `{"replyId":"x"}`, 400, "invalidRequest", true, "participantId"},
		{"missing hangup fields", "POST", "/hangupparticipant", `{"sessionId":"s"}`, 400, "invalidRequest", true, "participantId, replyId"},
		{"missing interrupt replyId", "POST", "/interruptivrcommand", `{"connectionId":"c"}`, 400, "invalidRequest", true, "replyId"},
		{"missing recording fields", "POST", "/startrecording", `{"replyId":"r"}`, 400, "invalidRequest", true, "connectionId, filename"},
		{"missing stop fields", "POST", "/stoprecording", `{}`, 400, "invalidRequest", true, "connectionId"},
		{"wrong channels type", "POST", "/startrecording", `{"connectionId":"c","filename":"f","channels":"2"}`, 400, "invalidRequest", true, "channels"},
		{"missing mute fields", "POST", "/muteparticipant", `{"direction":"in"}`, 400, "invalidRequest", true, "participantId, replyId"},
		{"conference wrong type", "POST", "/createconferenceconnection", `{"callRecording":1}`, 400, "invalidRequest", true, "callRecording"},
		{"body too large", "POST", "/placeivrcall", big, 413, "invalidRequest", false, "larger than 4096"},
		{"unknown replyId split", "POST", "/splitconnection", `{"connectionId":"c1","replyId":"` + bogusReply + `"}`, 404, "notFound", false, ""},
		{"unknown replyId connect", "POST", "/connect", `{"replyId":"` + bogusReply + `","participantId":"p1"}`, 404, "notFound", false, ""},
		{"unknown participant hangup", "POST", "/hangupparticipant", `{"participantId":"nobody","replyId":"` + bogusReply + `"}`, 404, "notFound", false, ""},
		{"unknown replyId interrupt", "POST", "/interruptivrcommand", `{"replyId":"` + bogusReply + `"}`, 404, "notFound", false, ""},
		{"unknown connection stop", "POST", "/stoprecording", `{"connectionId":"c1","replyId":"` + bogusReply + `"}`, 404, "notFound", false, ""},
		{"unknown participant mute", "POST", "/unmuteparticipant", `{"participantId":"nobody","replyId":"` + bogusReply + `"}`, 404, "notFound", false, ""},
		{"unknown domain", "POST", "/other.example.com/createconferenceconnection", `{}`, 404, "notFound", false, "unknown domain"},
		{"unknown operation", "POST", "/tenant.example.com/transfer", `{}`, 404, "notFound", true, ""},
		{"unknown path", "POST", "/nothing", `{}`, 404, "notFound", true, ""},
		{"GET on an operation", "GET", "/placeivrcall", ``, 405, "invalidRequest", true, "POST"},
		{"dot segments", "POST", "/x/../placeivrcall", `{}`, 400, "invalidRequest", true, "not clean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" || tt.method == "POST" {
				body = tt.body
			}
			rep := r.do(tt.method, tt.path, body)
			if rep.status != tt.status || rep.str("error") != tt.code || rep.json["success"] != false {
				t.Fatalf("%d %s, want %d %s", rep.status, rep.raw, tt.status, tt.code)
			}
			if !strings.Contains(rep.str("message"), tt.msg) {
				t.Errorf("message %q does not say %q", rep.str("message"), tt.msg)
			}
			if tt.docInvalid && rep.docValid() {
				t.Errorf("the OpenAPI document accepts this request")
			}
			if !tt.docInvalid && !rep.docValid() && tt.status != 413 && tt.name != "trailing garbage" {
				t.Errorf("the OpenAPI document refuses this request: %s", rep.header.Get(headerRequestInvalid))
			}
		})
	}
	// Liberal on unknown fields: they are ignored.
	rep := r.must("POST", "/createconferenceconnection", `{"someFutureField":{"a":1},"sessionId":"s1"}`)
	if rep.str("connectionId") == "" {
		t.Errorf("createconferenceconnection: %s", rep.raw)
	}

	// A normal call right after.
	ctx := ctxFor(t, 30*time.Second)
	bob := r.phone("bob", 1800)
	r.app.setAnswer(script{
		"newCall":   func(map[string]any) string { return `{"action":"call","destAddr":"` + bob.URI() + `"}` },
		"callEvent": func(map[string]any) string { return `{"action":"drop"}` },
	}.answer)
	alice := r.phone("alice", 440)
	ca, err := alice.Dial(ctx, r.uri("pbx"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := bob.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("A does not hear B: %v", err)
	}
	ab := r.app.wait(ctx, "callAnswered", 0).fields(t)
	r.must("POST", "/hangupparticipant", map[string]string{"participantId": str(ab, "calleeParticipantId"), "replyId": str(ab, "replyId")})
	if _, err := cb.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	r.app.wait(ctx, "sessionCompleted", 0)
	r.app.checkHooks()
}

// TestAPIPromptFiles covers PUT, GET (with .wav/.mp3 resolution), HEAD and
// DELETE of /promptfile, the size limit, content types and hostile names.
func TestAPIPromptFiles(t *testing.T) {
	r := newRig(t, nil, rigOptions{api: func(c *APIConfig) { c.MaxPromptSize = 64 << 10 }})
	wav := toneWAV(600, time.Second)
	mp3 := []byte("ID3\x03\x00\x00\x00\x00\x00\x00fake mp3 bytes")
	r.must("PUT", "/promptfile/hello.wav", wav)
	r.must("PUT", "/tenant.example.com/promptfile/music.mp3", mp3)
	r.must("PUT", "/promptfile/raw.bin", []byte{1, 2, 3})
	for _, tt := range []struct {
		path, ctype string
		want        []byte
	}{
		{"/promptfile/hello", "audio/wav", wav},
		{"/promptfile/hello.wav", "audio/wav", wav},
		{"/tenant.example.com/promptfile/music", "audio/mpeg", mp3},
		{"/promptfile/raw.bin", "application/octet-stream", []byte{1, 2, 3}},
	} {
		rep := r.do("GET", tt.path, nil)
		if rep.status != 200 || rep.header.Get("Content-Type") != tt.ctype || !bytes.Equal(rep.raw, tt.want) {
			t.Errorf("GET %s: %d %s, %d bytes", tt.path, rep.status, rep.header.Get("Content-Type"), len(rep.raw))
		}
	}
	if rep := r.do("HEAD", "/promptfile/hello", nil); rep.status != 200 || rep.header.Get("Content-Length") != fmt.Sprint(len(wav)) {
		t.Errorf("HEAD: %d, Content-Length %s", rep.status, rep.header.Get("Content-Length"))
	}
	// Replace atomically, then delete.
	r.must("PUT", "/promptfile/hello.wav", toneWAV(800, time.Second/2))
	if rep := r.do("GET", "/promptfile/hello.wav", nil); len(rep.raw) == len(wav) {
		t.Error("PUT did not replace the file")
	}
	r.must("DELETE", "/promptfile/hello.wav", nil)
	tests := []struct {
		name, method, path string
		body               []byte
		header             []string
		status             int
		code               string
	}{
		{"gone", "GET", "/promptfile/hello", nil, nil, 404, "notFound"},
		{"delete missing", "DELETE", "/promptfile/hello.wav", nil, nil, 404, "notFound"},
		{"delete resolves no extension", "DELETE", "/promptfile/music", nil, nil, 404, "notFound"},
		{"dot-dot escaped", "GET", "/promptfile/..%2Fsecret", nil, nil, 400, "invalidRequest"},
		{"dot-dot raw", "GET", "/promptfile/../secret", nil, nil, 400, "invalidRequest"},
		{"absolute", "PUT", "/promptfile/%2Fetc%2Fpasswd", []byte("x"), nil, 400, "invalidRequest"},
		{"backslash", "PUT", "/promptfile/..%5Cx.wav", []byte("x"), nil, 400, "invalidRequest"},
		{"NUL", "PUT", "/promptfile/a%00b.wav", []byte("x"), nil, 400, "invalidRequest"},
		{"hidden", "PUT", "/promptfile/.hidden", []byte("x"), nil, 400, "invalidRequest"},
		{"dot", "GET", "/promptfile/.", nil, nil, 400, "invalidRequest"},
		{"too long", "PUT", "/promptfile/" + strings.Repeat("a", 300), []byte("x"), nil, 400, "invalidRequest"},
		{"empty name", "GET", "/promptfile/", nil, nil, 400, "invalidRequest"},
		{"over the limit", "PUT", "/promptfile/big.wav", make([]byte, 65<<10), nil, 413, "invalidRequest"},
		{"empty body", "PUT", "/promptfile/empty.wav", []byte{}, nil, 400, "invalidRequest"},
		{"JSON body", "PUT", "/promptfile/x.wav", []byte("{}"), []string{"Content-Type", "application/json"}, 415, "invalidRequest"},
		{"POST", "POST", "/promptfile/x.wav", []byte("x"), nil, 405, "invalidRequest"},
		{"nested path", "GET", "/promptfile/a/b", nil, nil, 404, "notFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != nil {
				body = tt.body
			}
			rep := r.do(tt.method, tt.path, body, tt.header...)
			if rep.status != tt.status || rep.str("error") != tt.code {
				t.Errorf("%s %s: %d %s, want %d %s", tt.method, tt.path, rep.status, rep.raw, tt.status, tt.code)
			}
		})
	}
	// A chunked upload over the limit (no Content-Length) is refused too,
	// and leaves nothing behind.
	req, _ := http.NewRequestWithContext(t.Context(), "PUT", r.http.URL+"/promptfile/chunked.wav", io.MultiReader(bytes.NewReader(make([]byte, 70<<10))))
	req.Header.Set("Content-Type", "audio/wav")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked upload over the limit: %d", resp.StatusCode)
	}
	if rep := r.do("GET", "/promptfile/chunked.wav", nil); rep.status != 404 {
		t.Errorf("a refused upload left a file: %d", rep.status)
	}
	files, err := r.srv.ListPrompts()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "music.mp3,raw.bin" {
		t.Errorf("prompt files %v", names)
	}
}

// TestAPIAuth checks the static token, RS256 JWTs (expiry, key, domain),
// 401/403 bodies, and that operator paths and CORS preflights need none.
func TestAPIAuth(t *testing.T) {
	apiKey := testKeys()[1]
	r := newRig(t, nil, rigOptions{api: func(c *APIConfig) {
		c.Token = "s3cret-token"
		c.JWTPublicKey = &apiKey.PublicKey
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "mediaserver_sessions 0\n")
		})
	}})
	now := time.Now()
	jwt := func(c Claims, k *rsa.PrivateKey) string {
		tok, err := SignRS256(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	hs, _ := SignHS256(Claims{ExpiresAt: now.Add(time.Minute)}, []byte("secret"))
	valid := Claims{Issuer: "app", IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	tests := []struct {
		name, auth, path string
		status           int
	}{
		{"none", "", "/createconferenceconnection", 401},
		{"wrong token", "Bearer nope", "/createconferenceconnection", 401},
		{"basic", "Basic czNjcmV0LXRva2Vu", "/createconferenceconnection", 401},
		{"static token", "Bearer s3cret-token", "/createconferenceconnection", 200},
		{"static token prefixed", "bearer s3cret-token", "/tenant.example.com/createconferenceconnection", 200},
		{"JWT", jwt(valid, apiKey), "/createconferenceconnection", 200},
		{"JWT with domain", jwt(Claims{ExpiresAt: now.Add(time.Minute), Domain: "tenant.example.com"}, apiKey), "/tenant.example.com/createconferenceconnection", 200},
		{"JWT of another domain", jwt(Claims{ExpiresAt: now.Add(time.Minute), Domain: "other.example.com"}, apiKey), "/tenant.example.com/createconferenceconnection", 403},
		{"JWT of another domain unprefixed", jwt(Claims{ExpiresAt: now.Add(time.Minute), Domain: "other.example.com"}, apiKey), "/createconferenceconnection", 403},
		{"expired JWT", jwt(Claims{IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}, apiKey), "/createconferenceconnection", 401},
		{"JWT without exp", jwt(Claims{IssuedAt: now}, apiKey), "/createconferenceconnection", 401},
		{"JWT of another key", jwt(valid, testKeys()[0]), "/createconferenceconnection", 401},
		{"HS256 JWT", "Bearer " + hs, "/createconferenceconnection", 401},
		{"unauthenticated unknown domain", "", "/other.example.com/createconferenceconnection", 401},
		{"healthz", "", "/healthz", 200},
		{"readyz", "", "/readyz", 200},
		{"openapi", "", "/openapi.json", 200},
		{"metrics", "", "/metrics", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			method := "GET"
			if strings.HasSuffix(tt.path, "connection") {
				method, body = "POST", `{}`
			}
			var hdr []string
			if tt.auth != "" {
				hdr = []string{"Authorization", tt.auth}
			}
			rep := r.do(method, tt.path, body, hdr...)
			if rep.status != tt.status {
				t.Fatalf("%d %s, want %d", rep.status, rep.raw, tt.status)
			}
			switch tt.status {
			case 401:
				if rep.str("message") != "Unauthorized" || !strings.HasPrefix(rep.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 body %s, WWW-Authenticate %q", rep.raw, rep.header.Get("WWW-Authenticate"))
				}
			case 403:
				if rep.str("message") != "Forbidden" {
					t.Errorf("403 body %s", rep.raw)
				}
			}
		})
	}
	// CORS preflight on any path, without credentials.
	for _, p := range []string{"/placeivrcall", "/tenant.example.com/promptfile/x.wav", "/anything/at/all"} {
		rep := r.do("OPTIONS", p, nil, "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
		if rep.status != 200 || string(bytes.TrimSpace(rep.raw)) != "{}" || rep.header.Get("Access-Control-Allow-Methods") == "" ||
			!strings.Contains(rep.header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("OPTIONS %s: %d %s %v", p, rep.status, rep.raw, rep.header)
		}
	}
	if rep := r.do("GET", "/openapi.json", nil); !bytes.Equal(rep.raw, OpenAPI()) {
		t.Error("/openapi.json is not the embedded document")
	}
	r.api.Drain()
	if rep := r.do("GET", "/readyz", nil); rep.status != 503 || rep.str("status") != "draining" {
		t.Errorf("readyz while draining: %d %s", rep.status, rep.raw)
	}
}

// TestAPIRouting checks the base path, the default domain without a
// configured one, readiness before Serve and the /sessions handler.
func TestAPIRouting(t *testing.T) {
	srv, err := mediaserver.New(mediaserver.Config{Handler: mediaserver.HandlerFuncs{}, SIPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: quietLogger(), DisablePolly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	sessions := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "sessions:"+r.URL.Path) })
	api, err := NewAPI(APIConfig{Server: srv, BasePath: "/mediaservice/", Token: "t", Sessions: sessions, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, path, body string, auth bool) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if auth {
			req.Header.Set("Authorization", "Bearer t")
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s: no Access-Control-Allow-Origin", method, path)
		}
		return w.Code, w.Body.String()
	}
	for _, tt := range []struct {
		method, path string
		auth         bool
		status       int
		body         string
	}{
		{"GET", "/mediaservice/readyz", false, 503, `"starting"`},
		{"GET", "/mediaservice/healthz", false, 200, `"ok"`},
		{"GET", "/healthz", false, 404, `notFound`},
		{"GET", "/mediaservicex/healthz", false, 404, `notFound`},
		{"POST", "/mediaservice/any.domain/createconferenceconnection", true, 200, `connectionId`},
		{"POST", "/mediaservice/createconferenceconnection", true, 200, `connectionId`},
		{"POST", "/mediaservice/createconferenceconnection", false, 401, `Unauthorized`},
		{"GET", "/mediaservice/sessions/abc", true, 200, `sessions:/sessions/abc`},
		{"GET", "/mediaservice/sessions/abc", false, 401, `Unauthorized`},
		{"GET", "/mediaservice/metrics", false, 404, `notFound`},
		{"POST", "/mediaservice/healthz", false, 405, `invalidRequest`},
	} {
		status, body := serve(tt.method, tt.path, `{}`, tt.auth)
		if status != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("%s %s: %d %s, want %d %s", tt.method, tt.path, status, body, tt.status, tt.body)
		}
	}
	if _, err := NewAPI(APIConfig{}); err == nil {
		t.Error("NewAPI without a Server accepted")
	}
	_ = srv.Close()
	var e errorResponse
	status, body := serve("POST", "/mediaservice/createconferenceconnection", `{}`, true)
	if err := json.Unmarshal([]byte(body), &e); status != 503 || err != nil || e.Success || e.Error != "internalError" || e.Message == "" {
		t.Errorf("503 body %s", body)
	}
}

// TestAPIMisdirected: a request whose IDs belong to another instance is
// answered 421 with the owner's base URL from Peers (without one for an
// unknown owner) and never reaches the Server; the IDs and replyIds of a
// live call route to this instance, whose own entry in Peers is ignored.
func TestAPIMisdirected(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	r := newRig(t, script{
		"newCall":       func(map[string]any) string { return `{"action":"ivr"}` },
		"getIvrCommand": func(map[string]any) string { return `{"phrases":[{"format":"file","fileName":"tone600"}]}` },
		"callEvent":     func(map[string]any) string { return `{"action":"drop"}` },
	}.answer, rigOptions{
		server: func(c *mediaserver.Config) { c.InstanceID = "self1" },
		api: func(c *APIConfig) {
			c.Peers = map[string]string{"peer2": "http://127.0.0.1:37199/", "self1": "http://127.0.0.1:9"}
		},
	})
	peerReply := base64.RawURLEncoding.EncodeToString([]byte("peer2-sabc|peer2-cdef|1")) + ".c2ln"
	unknownReply := base64.RawURLEncoding.EncodeToString([]byte("zz9-sabc|zz9-pdef|0")) + ".c2ln"
	const peer = "http://127.0.0.1:37199"
	tests := []struct {
		path, body, owner string
	}{
		{"/splitconnection", `{"connectionId":"peer2-cdef","replyId":"` + peerReply + `"}`, peer},
		{"/tenant.example.com/splitconnection", `{"connectionId":"self1-cdef","replyId":"` + peerReply + `"}`, peer},
		{"/connect", `{"replyId":"` + peerReply + `","participantId":"self1-pabc"}`, peer},
		{"/createconferenceconnection", `{"sessionId":"peer2-sabc"}`, peer},
		{"/createconferenceconnection", `{"replyId":"` + unknownReply + `"}`, ""},
		{"/hangupparticipant", `{"participantId":"peer2-pabc","replyId":"bogus"}`, peer},
		{"/hangupparticipant", `{"participantId":"zz9-pabc","replyId":"bogus"}`, ""},
		{"/interruptivrcommand", `{"replyId":"` + peerReply + `"}`, peer},
		{"/interruptivrcommand", `{"replyId":"bogus","connectionId":"peer2-cabc"}`, peer},
		{"/startrecording", `{"connectionId":"peer2-fabc","filename":"x"}`, peer},
		{"/stoprecording", `{"connectionId":"peer2-cabc"}`, peer},
		{"/muteparticipant", `{"participantId":"peer2-pabc","replyId":"` + peerReply + `"}`, peer},
		{"/tenant.example.com/unmuteparticipant", `{"participantId":"peer2-pabc","replyId":"bogus"}`, peer},
	}
	for _, tt := range tests {
		rep := r.do(http.MethodPost, tt.path, tt.body)
		_, hasURL := rep.json["apiBaseUrl"]
		if rep.status != http.StatusMisdirectedRequest || rep.str("error") != "misdirected" || rep.json["success"] != false ||
			rep.str("apiBaseUrl") != tt.owner || hasURL != (tt.owner != "") || rep.str("message") == "" {
			t.Errorf("%s %s: %d %s, want 421 misdirected to %q", tt.path, tt.body, rep.status, rep.raw, tt.owner)
		}
	}
	// IDs without an instance prefix, or of this instance, reach the
	// Server, which does not know them.
	for _, body := range []string{
		`{"participantId":"nobody","replyId":"bogus"}`,
		`{"participantId":"self1-pabc","replyId":"bogus"}`,
		`{"participantId":"-pabc","replyId":"eHh4.yyyy"}`,
	} {
		if rep := r.do(http.MethodPost, "/hangupparticipant", body); rep.status != http.StatusNotFound {
			t.Errorf("hangupparticipant %s: %d %s, want 404", body, rep.status, rep.raw)
		}
	}

	// A live call: its IDs carry this instance, so they are served here.
	r.must(http.MethodPut, "/promptfile/tone600.wav", toneWAV(600, 20*time.Second))
	call, err := r.phone("alice", 440).Dial(ctx, r.uri("ivr"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ivr := r.app.wait(ctx, "getIvrCommand", 0).fields(t)
	for _, id := range []string{str(ivr, "sessionId"), str(ivr, "connectionId"), str(ivr, "participantId")} {
		if got := idInstance(id); got != "self1" {
			t.Errorf("idInstance(%q) = %q, want self1", id, got)
		}
	}
	if got := replyInstance(str(ivr, "replyId")); got != "self1" {
		t.Errorf("replyInstance(%q) = %q, want self1", str(ivr, "replyId"), got)
	}
	// connect with a participant of another instance is the Server's to
	// refuse (decision 2), not a misdirected request.
	rep := r.do(http.MethodPost, "/connect", map[string]string{"replyId": str(ivr, "replyId"), "participantId": "peer2-pabc"})
	if rep.status == http.StatusMisdirectedRequest || rep.status == http.StatusOK {
		t.Errorf("connect with a foreign participant: %d %s", rep.status, rep.raw)
	}
	r.must(http.MethodPost, "/interruptivrcommand", map[string]string{"replyId": str(ivr, "replyId"), "sessionId": str(ivr, "sessionId")})
	r.app.wait(ctx, "getIvrCommand", 1)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	r.app.wait(ctx, "sessionCompleted", 0)
	r.app.checkHooks()

	for _, peers := range []map[string]string{
		{"Bad": "http://127.0.0.1:1"},
		{"b": "ftp://127.0.0.1:1"},
		{"b": "http://127.0.0.1:1?x=1"},
		{"b": ""},
	} {
		if _, err := NewAPI(APIConfig{Server: r.srv, Peers: peers}); err == nil || !strings.Contains(err.Error(), "Peers") {
			t.Errorf("NewAPI with Peers %v: %v", peers, err)
		}
	}
}
