package flows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/mediaserver-go/mediaserver"
)

// Control is what a flow's application asks of the server besides
// answering callbacks: the REST API of API.md §3, in-process (Local) or over
// HTTP (REST). Both return errors that wrap the root package's sentinels
// (mediaserver.ErrNotFound, ErrStaleReply, ...) for the same failures.
type Control interface {
	PlaceIvrCall(ctx context.Context, req mediaserver.PlaceIvrCallRequest) (mediaserver.PlaceIvrCallResult, error)
	SplitConnection(ctx context.Context, req mediaserver.SplitConnectionRequest) error
	CreateConferenceConnection(ctx context.Context, req mediaserver.CreateConferenceRequest) (string, error)
	HangupParticipant(ctx context.Context, req mediaserver.HangupParticipantRequest) error
	// PutPrompt stores a prompt file (PUT /promptfile/{name}).
	PutPrompt(ctx context.Context, name string, data []byte) error
	// GetPrompt downloads a prompt file or recording (GET
	// /promptfile/{name}), resolving a name without extension as the IVR
	// does.
	GetPrompt(ctx context.Context, name string) ([]byte, error)
}

// Local is Control over a *mediaserver.Server in the same process.
type Local struct {
	Server *mediaserver.Server
}

// PlaceIvrCall calls Server.PlaceIvrCall.
func (l Local) PlaceIvrCall(ctx context.Context, req mediaserver.PlaceIvrCallRequest) (mediaserver.PlaceIvrCallResult, error) {
	return l.Server.PlaceIvrCall(ctx, req)
}

// SplitConnection calls Server.SplitConnection.
func (l Local) SplitConnection(ctx context.Context, req mediaserver.SplitConnectionRequest) error {
	return l.Server.SplitConnection(ctx, req)
}

// CreateConferenceConnection calls Server.CreateConferenceConnection.
func (l Local) CreateConferenceConnection(ctx context.Context, req mediaserver.CreateConferenceRequest) (string, error) {
	return l.Server.CreateConferenceConnection(ctx, req)
}

// HangupParticipant calls Server.HangupParticipant.
func (l Local) HangupParticipant(ctx context.Context, req mediaserver.HangupParticipantRequest) error {
	return l.Server.HangupParticipant(ctx, req)
}

// PutPrompt calls Server.PutPrompt without a size limit.
func (l Local) PutPrompt(ctx context.Context, name string, data []byte) error {
	_, err := l.Server.PutPrompt(ctx, name, bytes.NewReader(data), 0)
	return err
}

// GetPrompt reads the file Server.ResolvePrompt finds.
func (l Local) GetPrompt(_ context.Context, name string) ([]byte, error) {
	f, _, _, err := l.Server.ResolvePrompt(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// REST is Control over the server's REST API at BaseURL (e.g.
// "http://127.0.0.1:8080" or ".../tenant.example.com").
type REST struct {
	// BaseURL is the API's base URL, without a final slash. Required.
	BaseURL string
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// Client sends the requests. Default http.DefaultClient.
	Client *http.Client
}

// APIError is a REST answer other than 200: the status and the error
// envelope of API.md §2.2. It wraps the root package's sentinel of that
// status, so errors.Is works as in-process.
type APIError struct {
	Op      string
	Status  int
	Code    string // "invalidRequest", "notFound", "invalidState", ...
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("flows: %s: %d %s: %s", e.Op, e.Status, e.Code, e.Message)
}

// Unwrap returns the sentinel of the status: 400 ErrInvalid, 404
// ErrNotFound, 409 ErrStaleReply (or ErrInvalidState), 413 ErrTooLarge.
func (e *APIError) Unwrap() []error {
	switch e.Status {
	case http.StatusBadRequest:
		return []error{mediaserver.ErrInvalid}
	case http.StatusNotFound:
		return []error{mediaserver.ErrNotFound}
	case http.StatusConflict:
		return []error{mediaserver.ErrStaleReply, mediaserver.ErrInvalidState}
	case http.StatusRequestEntityTooLarge:
		return []error{mediaserver.ErrTooLarge}
	}
	return nil
}

// answer is the success envelope with the fields operations add.
type answer struct {
	Success      bool   `json:"success"`
	SessionID    string `json:"sessionId"`
	ConnectionID string `json:"connectionId"`
}

// Do sends one request: body is JSON-encoded unless it is []byte (sent as
// audio/wav) or nil. It returns the raw answer of a 200, or an *APIError.
func (c REST) Do(ctx context.Context, method, op string, body any) ([]byte, error) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ct = bytes.NewReader(b), "audio/wav"
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ct = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+"/"+op, rd)
	if err != nil {
		return nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{Op: method + " /" + op, Status: resp.StatusCode}
		var env struct{ Error, Message string }
		if json.Unmarshal(raw, &env) == nil {
			e.Code, e.Message = env.Error, env.Message
		}
		if e.Message == "" {
			e.Message = string(raw)
		}
		return nil, e
	}
	return raw, nil
}

func (c REST) post(ctx context.Context, op string, body any) (answer, error) {
	raw, err := c.Do(ctx, http.MethodPost, op, body)
	if err != nil {
		return answer{}, err
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return answer{}, fmt.Errorf("flows: POST /%s: answer %q: %w", op, raw, err)
	}
	if !a.Success {
		return answer{}, fmt.Errorf("flows: POST /%s: answer without success: %s", op, raw)
	}
	return a, nil
}

// PlaceIvrCall posts /placeivrcall.
func (c REST) PlaceIvrCall(ctx context.Context, req mediaserver.PlaceIvrCallRequest) (mediaserver.PlaceIvrCallResult, error) {
	a, err := c.post(ctx, "placeivrcall", req)
	if err == nil && a.SessionID == "" {
		err = errors.New("flows: placeivrcall answered no sessionId")
	}
	return mediaserver.PlaceIvrCallResult{SessionID: a.SessionID}, err
}

// SplitConnection posts /splitconnection.
func (c REST) SplitConnection(ctx context.Context, req mediaserver.SplitConnectionRequest) error {
	_, err := c.post(ctx, "splitconnection", req)
	return err
}

// CreateConferenceConnection posts /createconferenceconnection.
func (c REST) CreateConferenceConnection(ctx context.Context, req mediaserver.CreateConferenceRequest) (string, error) {
	a, err := c.post(ctx, "createconferenceconnection", req)
	if err == nil && a.ConnectionID == "" {
		err = errors.New("flows: createconferenceconnection answered no connectionId")
	}
	return a.ConnectionID, err
}

// HangupParticipant posts /hangupparticipant.
func (c REST) HangupParticipant(ctx context.Context, req mediaserver.HangupParticipantRequest) error {
	_, err := c.post(ctx, "hangupparticipant", req)
	return err
}

// PutPrompt sends PUT /promptfile/{name}.
func (c REST) PutPrompt(ctx context.Context, name string, data []byte) error {
	_, err := c.Do(ctx, http.MethodPut, "promptfile/"+url.PathEscape(name), data)
	return err
}

// GetPrompt sends GET /promptfile/{name}.
func (c REST) GetPrompt(ctx context.Context, name string) ([]byte, error) {
	return c.Do(ctx, http.MethodGet, "promptfile/"+url.PathEscape(name), nil)
}

var (
	_ Control = Local{}
	_ Control = REST{}
)
