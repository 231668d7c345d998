package callback

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/mediaserver-go/mediaserver"
)

// spec is the OpenAPI document loaded for validating what tests exchange.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

func loadSpec(t testing.TB) *spec {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &spec{doc: doc, router: router}
}

// headerRequestInvalid carries, on a response a test got through the
// validating transport, why its request does not match the document.
const headerRequestInvalid = "X-Test-Request-Invalid"

// validating is an http.RoundTripper that checks every request against the
// document (the result goes to headerRequestInvalid on the response) and
// every response strictly: the status must be documented and the body
// must match.
type validating struct {
	t    testing.TB
	spec *spec
	base http.RoundTripper
}

func (s *spec) client(t testing.TB) *http.Client {
	return &http.Client{Transport: &validating{t: t, spec: s, base: http.DefaultTransport}}
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) == 0 {
			req.Body = http.NoBody
		}
	}
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	route, params, rerr := v.spec.router.FindRoute(vreq)
	var in *openapi3filter.RequestValidationInput
	var reqErr error
	if rerr != nil {
		reqErr = fmt.Errorf("no route: %w", rerr)
	} else {
		in = &openapi3filter.RequestValidationInput{
			Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true},
		}
		reqErr = openapi3filter.ValidateRequest(req.Context(), in)
	}
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rbody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rbody))
	if reqErr != nil {
		resp.Header.Set(headerRequestInvalid, strings.ReplaceAll(reqErr.Error(), "\n", " "))
	}
	if in != nil {
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: in.Options,
		}
		out.SetBodyBytes(rbody)
		if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
			v.t.Errorf("%s %s: response %d %s does not match the OpenAPI document: %v", req.Method, req.URL.Path, resp.StatusCode, rbody, err)
		}
	}
	return resp, nil
}

// checkCallback validates a callback body against its webhook's request
// schema.
// sentByServer reports whether a schema is a webhook's request body.
func (s *spec) sentByServer(schema string) bool {
	for _, item := range s.doc.Webhooks {
		if item.Post.RequestBody.Value.Content.Get("application/json").Schema.Ref == "#/components/schemas/"+schema {
			return true
		}
	}
	return false
}

func (s *spec) checkCallback(name string, body []byte) error {
	return s.checkWebhookBody(name, body, func(op *openapi3.Operation) *openapi3.SchemaRef {
		return op.RequestBody.Value.Content.Get("application/json").Schema
	})
}

// checkAnswer validates an application's 200 answer to a webhook.
func (s *spec) checkAnswer(name string, body []byte) error {
	return s.checkWebhookBody(name, body, func(op *openapi3.Operation) *openapi3.SchemaRef {
		return op.Responses.Value("200").Value.Content.Get("application/json").Schema
	})
}

func (s *spec) checkWebhookBody(name string, body []byte, pick func(*openapi3.Operation) *openapi3.SchemaRef) error {
	item := s.doc.Webhooks[name]
	if item == nil || item.Post == nil {
		return fmt.Errorf("no webhook %q in the document", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return pick(item.Post).Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func TestOpenAPIDocument(t *testing.T) {
	s := loadSpec(t)
	if !s.doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %s, want 3.1", s.doc.OpenAPI)
	}
	var hooks []string
	for name := range s.doc.Webhooks {
		hooks = append(hooks, "/"+name)
	}
	sort.Strings(hooks)
	want := []string{PathCallAnswered, PathCallEvent, PathCallNotify, PathGetIvrCommand, PathNewCall, PathRecordingReady, PathSessionCompleted}
	if !slices.Equal(hooks, want) {
		t.Errorf("webhooks %v, want %v", hooks, want)
	}
	n := 0
	for name := range s.doc.Components.Schemas {
		if s.sentByServer(name) {
			n++
		}
	}
	if n != 7 {
		t.Errorf("%d schemas are webhook bodies, want 7", n)
	}
	for op := range opSegments {
		p := "/" + op
		if op == "promptfile" {
			p += "/{filename}"
		}
		for _, path := range []string{p, "/{domain}" + p} {
			if s.doc.Paths.Value(path) == nil {
				t.Errorf("path %s is served but not documented", path)
			}
		}
	}
	for seg := range operatorSegments {
		if s.doc.Paths.Value("/"+seg) == nil {
			t.Errorf("operator path /%s is not documented", seg)
		}
	}
}

// TestOpenAPIMatchesGoTypes checks that each schema has exactly the JSON
// fields of the Go type that is sent or decoded, so the document cannot
// drift from the root package's protocol types.
func TestOpenAPIMatchesGoTypes(t *testing.T) {
	s := loadSpec(t)
	tests := []struct {
		schema string
		typ    any
		extra  []string // accepted on input beyond the Go fields
	}{
		{"PlaceIvrCallRequest", mediaserver.PlaceIvrCallRequest{}, nil},
		{"SplitConnectionRequest", mediaserver.SplitConnectionRequest{}, nil},
		{"ConnectRequest", mediaserver.ConnectRequest{}, nil},
		{"CreateConferenceRequest", mediaserver.CreateConferenceRequest{}, nil},
		{"HangupParticipantRequest", mediaserver.HangupParticipantRequest{}, nil},
		{"InterruptIvrCommandRequest", mediaserver.InterruptIvrCommandRequest{}, nil},
		{"StartRecordingRequest", mediaserver.RecordingRequest{}, nil},
		{"StopRecordingRequest", mediaserver.RecordingRequest{}, nil},
		{"MuteRequest", mediaserver.MuteRequest{}, nil},
		{"NewCallRequest", mediaserver.NewCallRequest{}, nil},
		{"CallNotifyRequest", mediaserver.CallNotifyRequest{}, nil},
		{"CallEventRequest", mediaserver.CallEventRequest{}, nil},
		{"CallAnsweredRequest", mediaserver.CallAnsweredRequest{}, nil},
		{"IvrCommandRequest", mediaserver.IvrCommandRequest{}, nil},
		{"SessionCompletedRequest", mediaserver.SessionCompletedRequest{}, nil},
		{"RecordingReadyRequest", mediaserver.RecordingReadyRequest{}, nil},
		{"DtmfParams", mediaserver.DtmfParams{}, nil},
		{"RecordParams", mediaserver.RecordParams{}, nil},
		{"Action", mediaserver.Action{}, []string{"fileName"}},
		{"IvrCommand", mediaserver.IvrCommand{}, nil},
		{"DtmfCommand", mediaserver.DtmfCommand{}, nil},
		{"Phrase", mediaserver.Phrase{}, nil},
		{"RecordCommand", mediaserver.RecordCommand{}, nil},
		{"AwsTTSParameters", mediaserver.AwsTTSParameters{}, nil},
		{"SuccessResponse", okResponse{}, nil},
		{"ErrorResponse", errorResponse{}, nil},
		{"MisdirectedResponse", misdirectedResponse{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			ref := s.doc.Components.Schemas[tt.schema]
			if ref == nil {
				t.Fatalf("no schema %s", tt.schema)
			}
			var doc []string
			for name := range ref.Value.Properties {
				doc = append(doc, name)
			}
			sort.Strings(doc)
			fields, always := jsonFields(reflect.TypeOf(tt.typ))
			if tt.schema == "SuccessResponse" {
				fields, always = []string{"success"}, []string{"success"}
			}
			fields = append(fields, tt.extra...)
			sort.Strings(fields)
			if !slices.Equal(doc, fields) {
				t.Errorf("schema properties %v\n Go JSON fields   %v", doc, fields)
			}
			// What a callback schema requires, the Go type always emits.
			if s.sentByServer(tt.schema) {
				for _, r := range ref.Value.Required {
					if !slices.Contains(always, r) {
						t.Errorf("schema requires %s, which the Go type omits when empty", r)
					}
				}
			}
		})
	}
}

// jsonFields lists the JSON names of a struct's fields (embedded structs
// flattened), and those without omitempty.
func jsonFields(t reflect.Type) (all, always []string) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && tag == "" {
			a, b := jsonFields(f.Type)
			all, always = append(all, a...), append(always, b...)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	return all, always
}

// TestOpenAPIValidatesExamples feeds the validator the examples document's
// answers and bodies, and some it must refuse.
func TestOpenAPIValidatesExamples(t *testing.T) {
	s := loadSpec(t)
	tests := []struct {
		hook, body string
		answer, ok bool
	}{
		{"getIvrCommand", `{"dtmf":{"maxDigits":1},"phrases":[{"format":"awstts","awsTTSParameters":{"Text":"Welcome."}}]}`, true, true},
		{"getIvrCommand", `{"dtmf":{"maxDigits":3,"terminationKey":"#"},"bargeIn":"all","phrases":[{"format":"file","fileName":"landsa"}],"hangup":false}`, true, true},
		{"getIvrCommand", `{"backgroundPrompt":{"format":"file","fileName":"holdmusic.mp3","repeatPause":0.5},"getIVRCommandAfter":20}`, true, true},
		{"getIvrCommand", `{}`, true, true},
		{"getIvrCommand", `{"phrases":{"format":"file"}}`, true, false},
		{"newCall", `{"action":"call","destAddr":"sip:callee@example.com","callRecording":true,"filename":"rec1"}`, true, true},
		{"newCall", `{"action":"call","dropReason":"486"}`, true, true},
		{"newCall", `{"action":"transfer"}`, true, false},
		{"newCall", `{"destAddr":"sip:x@y"}`, true, false},
		{"callEvent", `{"action":"connect","participantId":"p1","replyId":"r1"}`, true, true},
		{"sessionCompleted", `{"sessionId":"s1","sessionDuration":"41.8"}`, false, true},
		{"sessionCompleted", `{"sessionId":"s1","sessionDuration":41.8}`, false, false},
		{"callEvent", `{"sessionId":"s1","event":"callingPartyDrop","replyId":"r","participantId":"p","user":"userA"}`, false, true},
		{"callEvent", `{"sessionId":"s1","event":"somethingElse","replyId":"r","participantId":"p"}`, false, false},
	}
	for _, tt := range tests {
		check := s.checkCallback
		if tt.answer {
			check = s.checkAnswer
		}
		err := check(tt.hook, []byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("%s %s: valid=%v, want %v (%v)", tt.hook, tt.body, err == nil, tt.ok, err)
		}
	}
	_ = context.Background
}
