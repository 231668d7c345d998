package flows

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/callback"
)

// maxCallbackBody bounds the body of a callback the webhook reads.
const maxCallbackBody = 1 << 20

// Exchange is one callback as the webhook application saw it: what came
// in and what it answered.
type Exchange struct {
	// Name is the callback's name, the last segment of the path: "newCall".
	Name   string
	Header http.Header
	Body   []byte
	// VerifyErr is callback.Verify's verdict; nil when it verified or when
	// no verification was configured.
	VerifyErr error
	// Status and Answer are what the webhook answered.
	Status int
	Answer []byte
}

// WebhookOptions configure Webhook.
type WebhookOptions struct {
	// Verify, when set, checks every callback's signature with
	// callback.Verify; one that does not verify is answered 401 and does not
	// reach the application.
	Verify *callback.VerifyOptions
	// Inspect, when set, sees every exchange after it was answered, e.g. to
	// validate it against the OpenAPI document. It runs on the request's
	// goroutine.
	Inspect func(Exchange)
}

// Webhook serves app as a webhook application: each callback POSTed to
// <base>/newCall, /callEvent, ... is decoded into the root package's
// request type, given to app, and its answer encoded as JSON. A decision
// callback whose app method fails is answered 500, so the server applies
// its fallback; informational ones are answered {}.
func Webhook(app mediaserver.Handler, opts WebhookOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := Exchange{Name: path.Base(r.URL.Path), Header: r.Header.Clone()}
		defer func() {
			if opts.Inspect != nil {
				opts.Inspect(ex)
			}
		}()
		reply := func(status int, v any) {
			ex.Status = status
			ex.Answer, _ = json.Marshal(v)
			w.Header().Set("Content-Type", "application/json;charset=utf-8")
			w.WriteHeader(status)
			_, _ = w.Write(ex.Answer)
		}
		if r.Method != http.MethodPost {
			reply(http.StatusMethodNotAllowed, map[string]string{"error": "POST only"})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxCallbackBody))
		if err != nil {
			reply(http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		ex.Body = body
		if opts.Verify != nil {
			if _, ex.VerifyErr = callback.Verify(r, body, *opts.Verify); ex.VerifyErr != nil {
				reply(http.StatusUnauthorized, map[string]string{"error": ex.VerifyErr.Error()})
				return
			}
		}
		ans, err := dispatch(r.Context(), app, ex.Name, body)
		switch {
		case err == errUnknownCallback:
			reply(http.StatusNotFound, map[string]string{"error": "no callback " + ex.Name})
		case err != nil:
			reply(http.StatusInternalServerError, map[string]string{"error": err.Error()})
		default:
			reply(http.StatusOK, ans)
		}
	})
}

var errUnknownCallback = fmt.Errorf("flows: unknown callback")

// dispatch decodes body as the request of the callback name and calls
// app's method for it.
func dispatch(ctx context.Context, app mediaserver.Handler, name string, body []byte) (any, error) {
	switch name {
	case "newCall":
		return call(ctx, body, app.NewCall)
	case "callEvent":
		return call(ctx, body, app.CallEvent)
	case "getIvrCommand":
		return call(ctx, body, app.GetIvrCommand)
	case "callNotify":
		if h, ok := app.(mediaserver.CallNotifier); ok {
			return inform(ctx, body, h.CallNotify)
		}
	case "callAnswered":
		if h, ok := app.(mediaserver.CallAnsweredHandler); ok {
			return inform(ctx, body, h.CallAnswered)
		}
	case "sessionCompleted":
		if h, ok := app.(mediaserver.SessionCompletedHandler); ok {
			return inform(ctx, body, h.SessionCompleted)
		}
	case "recordingReady":
		if h, ok := app.(mediaserver.RecordingReadyHandler); ok {
			return inform(ctx, body, h.RecordingReady)
		}
	default:
		return nil, errUnknownCallback
	}
	return struct{}{}, nil
}

func call[Req, Ans any](ctx context.Context, body []byte, f func(context.Context, *Req) (Ans, error)) (any, error) {
	req := new(Req)
	if err := json.Unmarshal(body, req); err != nil {
		return nil, err
	}
	return f(ctx, req)
}

func inform[Req any](ctx context.Context, body []byte, f func(context.Context, *Req) error) (any, error) {
	req := new(Req)
	if err := json.Unmarshal(body, req); err != nil {
		return nil, err
	}
	return struct{}{}, f(ctx, req)
}
