package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
	"github.com/mediaserver-go/mediaserver/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// testLogger is silent unless MEDIASERVER_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("MEDIASERVER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// toneWAV returns a WAV file of a tone.
func toneWAV(freq float64, d time.Duration) []byte {
	pcm := make([]int16, int(d.Seconds()*8000))
	for i := range pcm {
		pcm[i] = int16(10000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return mediaservertest.EncodeWAV(pcm)
}

// scrape is what a Prometheus server sees on /metrics.
type scrape map[string]*dto.MetricFamily

// get returns the value of the series of name with the given labels
// (name, value pairs; the series may have more): a counter's or gauge's
// value, a histogram's sample count. It returns -1 when nothing matches.
func (s scrape) get(name string, labels ...string) float64 {
	f, ok := s[name]
	if !ok {
		return -1
	}
	for _, m := range f.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// sum adds the values of every series of name with the given labels.
func (s scrape) sum(name string, labels ...string) float64 {
	total := 0.0
	for _, m := range s[name].GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		ok := false
		for _, lp := range m.GetLabel() {
			ok = ok || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
		}
		if !ok {
			return false
		}
	}
	return true
}

// scrapeURL fetches and parses a text exposition, as Prometheus would.
func scrapeURL(ctx context.Context, t *testing.T, client *http.Client, url string) scrape {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d, %v: %s", resp.StatusCode, err, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, body)
	}
	return fams
}

// TestEndToEnd runs real calls through a server on loopback with the
// metrics wired as an embedder would (Config.Observer, Attach, promhttp),
// and checks what a scrape shows: a bridged call that is recorded and
// hung up, a call to a busy callee, and an IVR call that plays a prompt
// and hangs up.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end calls")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	bob := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "bob", ToneHz: 1000, Logger: testLogger()})
	busy := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "busy", AnswerCode: 486, Logger: testLogger()})
	alice := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "alice", ToneHz: 440, Logger: testLogger()})

	completed := make(chan string, 8)
	h := mediaserver.HandlerFuncs{
		NewCallFunc: func(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
			switch {
			case strings.Contains(req.CalledParty, "sip:bob@"):
				return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: bob.URI(), CallRecording: true, Filename: "bridged"}, nil
			case strings.Contains(req.CalledParty, "sip:busy@"):
				return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: busy.URI()}, nil
			}
			return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
		},
		CallEventFunc: func(context.Context, *mediaserver.CallEventRequest) (mediaserver.Action, error) {
			return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
		},
		GetIvrCommandFunc: func(context.Context, *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
			return mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{{Format: "file", FileName: "greet"}}, Hangup: true}, nil
		},
		SessionCompletedFunc: func(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
			completed <- req.SessionID
			return nil
		},
	}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler:         h,
		SIPAddr:         "127.0.0.1:0",
		RTPPortMin:      50000,
		RTPPortMax:      50999,
		Logger:          testLogger(),
		DecisionTimeout: 3 * time.Second,
		DataDir:         t.TempDir(),
		Observer:        m,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Attach(srv); err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx) }()
	stopped := false
	shutdown := func() {
		if !stopped {
			stopped = true
			stop()
			if err := <-served; !errors.Is(err, mediaserver.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		}
	}
	defer shutdown()
	select {
	case <-srv.Ready():
	case err := <-served:
		t.Fatalf("Serve: %v", err)
	case <-ctx.Done():
		t.Fatal("server not ready")
	}
	if _, err := srv.PutPrompt(ctx, "greet.wav", bytes.NewReader(toneWAV(700, 600*time.Millisecond)), 0); err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	url := ts.URL + "/metrics"

	waitCompleted := func(what string) {
		t.Helper()
		select {
		case <-completed:
		case <-ctx.Done():
			t.Fatalf("%s: no sessionCompleted", what)
		}
	}
	uri := func(user string) string { return "sip:" + user + "@" + srv.SIPAddr().String() }

	// 1. A bridged call, recorded, that alice hangs up.
	a, err := alice.Dial(ctx, uri("bob"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bob.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("alice does not hear bob: %v", err)
	}
	if err := b.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("bob does not hear alice: %v", err)
	}
	mid := scrapeURL(ctx, t, ts.Client(), url)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mediaserver_sessions_active", nil, 1},
		{"mediaserver_participants_active", nil, 2},
		{"mediaserver_connections_active", []string{"kind", "bridge"}, 1},
	} {
		if got := mid.get(c.name, c.labels...); got != c.want {
			t.Errorf("during the bridged call: %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if err := a.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	waitCompleted("bridged call")

	// 2. A call to a busy callee: alice is answered first
	// (AnswerBeforeCallee), then dropped after calledPartyFailed busy.
	a, err = alice.Dial(ctx, uri("busy"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := a.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Fatalf("busy call ended with %v, %v; want BYE", r, err)
	}
	waitCompleted("busy call")

	// 3. An IVR call: one prompt, then the IVR hangs up and the caller
	// is dropped.
	a, err = alice.Dial(ctx, uri("ivr"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitHeard(ctx, 700, 0.5); err != nil {
		t.Fatalf("alice does not hear the prompt: %v", err)
	}
	if r, err := a.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Fatalf("IVR call ended with %v, %v; want BYE", r, err)
	}
	waitCompleted("IVR call")

	// The last callbacks are reported once they returned, and the media
	// endpoints close as the sessions end: wait for the scrape to settle.
	var s scrape
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s = scrapeURL(ctx, t, ts.Client(), url)
		if s.get("mediaserver_callback_duration_seconds", "callback", "sessionCompleted") == 3 &&
			s.get("mediaserver_callback_duration_seconds", "callback", "recordingReady") == 1 &&
			s.get("mediaserver_sessions_active") == 0 &&
			s.get("mediaserver_participants_active") == 0 &&
			s.get("mediaserver_rtp_endpoints_active") == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("metrics did not settle: sessionCompleted %v, recordingReady %v, sessions %v, participants %v, endpoints %v",
				s.get("mediaserver_callback_duration_seconds", "callback", "sessionCompleted"),
				s.get("mediaserver_callback_duration_seconds", "callback", "recordingReady"),
				s.get("mediaserver_sessions_active"), s.get("mediaserver_participants_active"),
				s.get("mediaserver_rtp_endpoints_active"))
		}
	}

	exact := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mediaserver_sessions_started_total", nil, 3},
		{"mediaserver_session_duration_seconds", nil, 3},
		{"mediaserver_participants_started_total", []string{"kind", "caller"}, 3},
		{"mediaserver_participants_started_total", []string{"kind", "callee"}, 2},
		{"mediaserver_participants_started_total", []string{"kind", "ivr"}, 1},
		{"mediaserver_participants_started_total", []string{"kind", "other"}, 0},
		{"mediaserver_participants_ended_total", []string{"kind", "caller", "outcome", "completed"}, 3},
		{"mediaserver_participants_ended_total", []string{"kind", "callee", "outcome", "completed"}, 1},
		{"mediaserver_participants_ended_total", []string{"kind", "callee", "outcome", "busy"}, 1},
		{"mediaserver_connections_started_total", []string{"kind", "bridge"}, 1},
		{"mediaserver_connections_started_total", []string{"kind", "ivr"}, 1},
		{"mediaserver_connections_started_total", []string{"kind", "conference"}, 0},
		{"mediaserver_connections_ended_total", []string{"kind", "bridge"}, 1},
		{"mediaserver_connections_ended_total", []string{"kind", "ivr"}, 1},
		{"mediaserver_callback_duration_seconds", []string{"callback", "newCall"}, 3},
		{"mediaserver_callback_duration_seconds", []string{"callback", "getIvrCommand"}, 1},
		{"mediaserver_callback_duration_seconds", []string{"callback", "other"}, 0},
		{"mediaserver_recordings_total", nil, 1},
		{"mediaserver_sessions_active", nil, 0},
		{"mediaserver_participants_active", nil, 0},
		{"mediaserver_conferences_active", nil, 0},
		{"mediaserver_draining", nil, 0},
		{"mediaserver_rtp_dropped_packets_total", []string{"reason", "malformed"}, 0},
		{"mediaserver_rtp_dropped_packets_total", []string{"reason", "foreign"}, 0},
		{"mediaserver_prompt_load_failures_total", nil, 0},
	}
	for _, c := range exact {
		if got := s.get(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Every participant that started also ended, and the IVR with some
	// outcome.
	if started, ended := s.sum("mediaserver_participants_started_total"), s.sum("mediaserver_participants_ended_total"); started != 6 || ended != 6 {
		t.Errorf("participants started %v, ended %v; want 6 and 6", started, ended)
	}
	if got := s.sum("mediaserver_participants_ended_total", "kind", "ivr"); got != 1 {
		t.Errorf("IVR participants ended %v, want 1", got)
	}
	for _, kind := range []string{"bridge", "ivr", "conference", "other"} {
		if got := s.get("mediaserver_connections_active", "kind", kind); got != 0 {
			t.Errorf("connections_active{kind=%q} = %v, want 0", kind, got)
		}
	}
	// The busy callee failed with calledPartyFailed, answered by callEvent.
	if got := s.get("mediaserver_callback_duration_seconds", "callback", "callEvent"); got < 1 {
		t.Errorf("callEvent callbacks %v, want at least 1", got)
	}
	if got := s.get("mediaserver_callback_duration_seconds", "callback", "callAnswered"); got < 2 {
		t.Errorf("callAnswered callbacks %v, want at least 2 (bridge and IVR)", got)
	}
	if got := s.sum("mediaserver_callback_failures_total"); got != 0 {
		t.Errorf("%v callback failures, want 0", got)
	}
	newCall := s["mediaserver_callback_duration_seconds"]
	for _, m := range newCall.GetMetric() {
		if matches(m, []string{"callback", "newCall"}) {
			h := m.GetHistogram()
			if h.GetSampleSum() <= 0 {
				t.Errorf("newCall latency sum %v, want > 0", h.GetSampleSum())
			}
			if last := h.GetBucket()[len(h.GetBucket())-1]; last.GetCumulativeCount() != 3 {
				t.Errorf("newCall largest bucket (le=%v) has %d, want 3", last.GetUpperBound(), last.GetCumulativeCount())
			}
		}
	}
	for _, name := range []string{
		"mediaserver_rtp_received_packets_total", "mediaserver_rtp_sent_packets_total",
		"mediaserver_rtp_received_bytes_total", "mediaserver_rtp_sent_bytes_total",
		"mediaserver_media_clock_ticks_total", "mediaserver_recorded_seconds_total",
		"mediaserver_recorded_bytes_total",
	} {
		if got := s.get(name); got <= 0 {
			t.Errorf("%s = %v, want > 0", name, got)
		}
	}
	if got := s.get("mediaserver_prompt_cache_misses_total", "source", "file"); got < 1 {
		t.Errorf("file prompt misses %v, want at least 1 (greet.wav decoded)", got)
	}
	if in, bytesIn := s.get("mediaserver_rtp_received_packets_total"), s.get("mediaserver_rtp_received_bytes_total"); bytesIn < in*160 {
		t.Errorf("%v RTP bytes for %v packets: less than a 20 ms G.711 payload each", bytesIn, in)
	}

	// Once the server shuts down, the collector says it drains.
	shutdown()
	if got := scrapeURL(ctx, t, ts.Client(), url).get("mediaserver_draining"); got != 1 {
		t.Errorf("draining after shutdown = %v, want 1", got)
	}
}
