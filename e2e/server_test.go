package e2e_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/callback"
	"github.com/mediaserver-go/mediaserver/internal/flows"
)

// The binary's settings in these tests.
const (
	testDomain = "tenant.example.com"
	testToken  = "e2e-token"
	testSecret = "e2e-callback-secret"
)

// mediaserverProc is cmd/mediaserver running for one test.
type mediaserverProc struct {
	*proc
	sipAddr string // host:port
	api     string // http://host:port
	dataDir string
}

// startMediaserver runs the binary on loopback with its callbacks to
// callbackURL, signed HS256 with testSecret, the REST API behind testToken,
// and waits until it serves. extra flags come last and win.
func startMediaserver(t *testing.T, dir, callbackURL string, extra ...string) *mediaserverProc {
	t.Helper()
	bin := binary(t, "mediaserver")
	m := &mediaserverProc{dataDir: filepath.Join(dir, "data")}
	args := append([]string{
		"-sip-addr", "127.0.0.1:0", "-api-addr", "127.0.0.1:0",
		"-rtp-ports", "53000-54999", "-data-dir", m.dataDir,
		"-callback-url", callbackURL, "-callback-secret", testSecret,
		"-api-token", testToken, "-domain", testDomain, "-instance-id", "e2e",
		"-log-format", "json", "-log-level", "debug", "-drain-timeout", "2s",
	}, extra...)
	m.proc = startProc(t, "mediaserver", dir, bin, args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	serving, err := m.waitLog(ctx, "serving")
	if err != nil {
		t.Fatal(err)
	}
	m.sipAddr, _ = serving["sipAddr"].(string)
	api, _ := serving["apiAddr"].(string)
	m.api = "http://" + api
	if m.sipAddr == "" || api == "" {
		t.Fatalf("serving line without addresses: %v", serving)
	}
	return m
}

// shutdown stops the binary with SIGTERM and checks that it drained and
// exited 0.
func (m *mediaserverProc) shutdown(t *testing.T) {
	t.Helper()
	if code := m.stop(30 * time.Second); code != 0 {
		t.Errorf("mediaserver exited %d after SIGTERM, want 0", code)
	}
	if m.logs("shutdown complete") == nil {
		t.Errorf("mediaserver did not log a complete shutdown")
	}
	for _, l := range m.logs("api: operation failed") {
		t.Errorf("the API logged an internal error: %v", l)
	}
}

// webhookApp serves h (a webhook application) on httptest with every
// exchange checked by an inspector; it returns the server's URL.
func webhookApp(t *testing.T, h func(flows.WebhookOptions) http.Handler, apiBase *atomic.Value) string {
	t.Helper()
	in := &inspector{t: t, spec: theSpec(t), apiBase: func() string { s, _ := apiBase.Load().(string); return s }}
	srv := httptest.NewServer(h(flows.WebhookOptions{
		Verify:  &callback.VerifyOptions{Secret: []byte(testSecret)},
		Inspect: in.check,
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// startHTTP is the HTTP driver of a flow against the binary: the flow's
// Recorder served as a webhook application, the binary calling it, and
// REST calls (validated) to the binary's API under the domain prefix.
func startHTTP(t *testing.T) (*flows.Rig, *mediaserverProc) {
	t.Helper()
	dir := t.TempDir()
	app := flows.NewRecorder()
	var apiBase atomic.Value
	url := webhookApp(t, func(o flows.WebhookOptions) http.Handler { return flows.Webhook(app, o) }, &apiBase)
	m := startMediaserver(t, dir, url+"/hooks")
	apiBase.Store(m.api)
	rig := &flows.Rig{
		App:     app,
		Ctl:     flows.REST{BaseURL: m.api + "/" + testDomain, Token: testToken, Client: theSpec(t).client(t)},
		SIPAddr: m.sipAddr,
	}
	return rig, m
}
