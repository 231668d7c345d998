package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/mediaserver-go/mediaserver/callback"
	"github.com/mediaserver-go/mediaserver/internal/flows"
)

// spec is callback/openapi.json, loaded once, that every exchange of these
// tests is validated against (the approach of callback's own tests).
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

var loadSpec = sync.OnceValues(func() (*spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(callback.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.json is not valid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &spec{doc: doc, router: router}, nil
})

func theSpec(t testing.TB) *spec {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// headerRequestInvalid carries, on an answer the validating client got,
// why the request does not match the document (bad-input tests send such
// requests on purpose).
const headerRequestInvalid = "X-Test-Request-Invalid"

// validating is an http.RoundTripper that checks each request against the
// document (the verdict goes to headerRequestInvalid) and each answer
// strictly: its status must be documented for the operation and its body
// must match. The API's server is a separate process, so the document is
// the only shared truth.
type validating struct {
	t    testing.TB
	spec *spec
}

// client returns an HTTP client whose exchanges are validated.
func (s *spec) client(t testing.TB) *http.Client {
	return &http.Client{Transport: &validating{t: t, spec: s}}
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
	resp, err := http.DefaultTransport.RoundTrip(req)
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
			RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: in.Options,
		}
		out.SetBodyBytes(rbody)
		if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
			v.t.Errorf("%s %s: answer %d (%s, %d bytes) does not match the OpenAPI document: %v", req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), len(rbody), err)
		}
	}
	if resp.Header.Get("Access-Control-Allow-Origin") == "" && !strings.HasSuffix(req.URL.Path, "z") {
		v.t.Errorf("%s %s: answer %d without Access-Control-Allow-Origin", req.Method, req.URL.Path, resp.StatusCode)
	}
	return resp, nil
}

// webhookBody validates a callback's body (answer false) or the
// application's 200 answer (answer true) against the document's webhook.
func (s *spec) webhookBody(name string, body []byte, answer bool) error {
	item := s.doc.Webhooks[name]
	if item == nil || item.Post == nil {
		return fmt.Errorf("no webhook %q in the document", name)
	}
	var schema *openapi3.SchemaRef
	if answer {
		schema = item.Post.Responses.Value("200").Value.Content.Get("application/json").Schema
	} else {
		schema = item.Post.RequestBody.Value.Content.Get("application/json").Schema
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// inspector checks every callback exchange of a webhook application: the
// signature verified, the body and a 200 answer match the document, and
// the callback names the API base URL of the instance.
type inspector struct {
	t       testing.TB
	spec    *spec
	apiBase func() string // "" until known
}

func (in *inspector) check(ex flows.Exchange) {
	if ex.VerifyErr != nil {
		in.t.Errorf("%s: signature: %v", ex.Name, ex.VerifyErr)
	}
	if err := in.spec.webhookBody(ex.Name, ex.Body, false); err != nil {
		in.t.Errorf("%s: body %s does not match the document: %v", ex.Name, ex.Body, err)
	}
	if ex.Status == http.StatusOK {
		if err := in.spec.webhookBody(ex.Name, ex.Answer, true); err != nil {
			in.t.Errorf("%s: the application's answer %s does not match the document: %v", ex.Name, ex.Answer, err)
		}
	}
	if base := in.apiBase(); base != "" && ex.Header.Get(callback.HeaderAPIBaseURL) != base {
		in.t.Errorf("%s: %s %q, want %q", ex.Name, callback.HeaderAPIBaseURL, ex.Header.Get(callback.HeaderAPIBaseURL), base)
	}
}
