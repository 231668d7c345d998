package callback_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/callback"
)

// Example wires a self-hosted server: callbacks go to the application's
// webhooks, and the REST API is served on :8080 (cmd/mediaserver does
// this, with flags).
func Example() {
	hooks, err := callback.NewHandler(callback.Config{
		BaseURL: "https://app.example.com/ms",
		Secret:  []byte("shared secret"),
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler:    hooks,
		SIPAddr:    "127.0.0.1:5060",
		APIBaseURL: "http://127.0.0.1:8080",
	})
	if err != nil {
		log.Fatal(err)
	}
	api, err := callback.NewAPI(callback.APIConfig{Server: srv, Token: "api token"})
	if err != nil {
		log.Fatal(err)
	}
	httpSrv := &http.Server{Addr: "127.0.0.1:8080", Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = httpSrv.ListenAndServe() }()
	ctx := context.Background()
	if err := srv.Serve(ctx); !errors.Is(err, mediaserver.ErrServerClosed) {
		log.Print(err)
	}
	// After Shutdown: deliver the last sessionCompleted callbacks, then
	// stop the API.
	_ = hooks.Shutdown(ctx)
	_ = httpSrv.Shutdown(ctx)
}

// ExampleVerify is the application's side: check that a callback comes
// from the server before acting on it.
func ExampleVerify() {
	secret := []byte("shared secret")
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		claims, err := callback.Verify(r, body, callback.VerifyOptions{Secret: secret})
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("verified", claims.Path, "from", claims.Issuer)
		_, _ = io.WriteString(w, `{"action":"ivr"}`)
	})
	ts := httptest.NewServer(app)
	defer ts.Close()

	hooks, err := callback.NewHandler(callback.Config{BaseURL: ts.URL + "/ms", Secret: secret})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = hooks.Close() }()
	act, err := hooks.NewCall(context.Background(), &mediaserver.NewCallRequest{Meta: mediaserver.Meta{SessionID: "s1"}})
	fmt.Println(act.Action, err)

	// A forged callback is refused.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/ms/newCall", strings.NewReader(`{"sessionId":"s1"}`))
	req.Header.Set("Authorization", "Bearer forged.token.here")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		fmt.Println(resp.StatusCode)
		_ = resp.Body.Close()
	}
	// Output:
	// verified /newCall from mediaserver
	// ivr <nil>
	// 401
}
