package metrics

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/ivr"
	"github.com/mediaserver-go/mediaserver/media"
	"github.com/mediaserver-go/mediaserver/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// newTestMetrics returns Metrics on a fresh registry.
func newTestMetrics(t *testing.T) (*prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}

// series finds the series of family name whose labels include the given
// name, value pairs; it fails the test when there is not exactly one.
func series(t *testing.T, g prometheus.Gatherer, name string, labels ...string) *dto.Metric {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		var found []*dto.Metric
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				found = append(found, m)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s%v: %d series match", name, labels, len(found))
		}
		return found[0]
	}
	t.Fatalf("no metric %s", name)
	return nil
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		ok := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// value returns the value of a counter or gauge series, or the sample
// count of a histogram series.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	m := series(t, g, name, labels...)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("%s%v: no counter, gauge or histogram", name, labels)
	return 0
}

func TestConfigErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no registerer", Config{}, "Registerer"},
		{"namespace with a dash", Config{Registerer: reg, Namespace: "media-server"}, "Namespace"},
		{"namespace with a digit first", Config{Registerer: reg, Namespace: "1ms"}, "Namespace"},
		{"const label le", Config{Registerer: reg, ConstLabels: prometheus.Labels{"le": "x"}}, "ConstLabels"},
		{"const label reserved", Config{Registerer: reg, ConstLabels: prometheus.Labels{"__x": "x"}}, "ConstLabels"},
		{"const label with a dot", Config{Registerer: reg, ConstLabels: prometheus.Labels{"a.b": "x"}}, "ConstLabels"},
		{"session buckets unsorted", Config{Registerer: reg, SessionBuckets: []float64{1, 3, 2}}, "SessionBuckets"},
		{"callback buckets repeated", Config{Registerer: reg, CallbackBuckets: []float64{1, 1}}, "CallbackBuckets"},
		{"callback buckets empty", Config{Registerer: reg, CallbackBuckets: []float64{}}, "CallbackBuckets"},
		{"callback buckets NaN", Config{Registerer: reg, CallbackBuckets: []float64{1, math.NaN()}}, "CallbackBuckets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			var ce *ConfigError
			if m != nil || !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("New: %v, %v; want a ConfigError for %s", m, err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "metrics: config "+tt.field) {
				t.Errorf("error %q", err)
			}
		})
	}
	if n, _ := testutil.GatherAndCount(reg); n != 0 {
		t.Errorf("failed New calls registered %d series", n)
	}

	// Several wrong fields are all reported.
	_, err := New(Config{Namespace: "-", SessionBuckets: []float64{2, 1}})
	for _, field := range []string{"Registerer", "Namespace", "SessionBuckets"} {
		if !strings.Contains(fmt.Sprint(err), "config "+field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

// TestNewRegistersAllOrNothing: a name clash fails New and leaves nothing
// of it registered, so the embedder can retry with another Namespace.
func TestNewRegistersAllOrNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "mediaserver_recordings_total", Help: "something else"})
	reg.MustRegister(clash)
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Fatal("New registered over an existing metric")
	}
	if n, _ := testutil.GatherAndCount(reg); n != 1 {
		t.Errorf("after a failed New the registry has %d series, want only the clashing one", n)
	}
	if _, err := New(Config{Registerer: reg, Namespace: "other"}); err != nil {
		t.Fatalf("New with another namespace: %v", err)
	}
	// The same namespace twice on one registry is refused.
	if _, err := New(Config{Registerer: reg, Namespace: "other"}); err == nil {
		t.Error("a second New with the same namespace succeeded")
	}
}

func TestObserverEvents(t *testing.T) {
	reg, m := newTestMetrics(t)

	m.SessionStarted()
	m.SessionStarted()
	m.SessionEnded(90 * time.Second)
	m.ParticipantStarted(mediaserver.KindCaller)
	m.ParticipantStarted(mediaserver.KindCallee)
	m.ParticipantStarted(mediaserver.KindCallee)
	m.ParticipantStarted(mediaserver.KindIVR)
	m.ParticipantEnded(mediaserver.KindCaller, mediaserver.OutcomeCompleted)
	m.ParticipantEnded(mediaserver.KindCallee, mediaserver.ReasonBusy)
	m.ParticipantEnded(mediaserver.KindCallee, mediaserver.ReasonNoAnswer)
	m.ConnectionStarted(mediaserver.ConnectionBridge)
	m.ConnectionStarted(mediaserver.ConnectionBridge)
	m.ConnectionStarted(mediaserver.ConnectionConference)
	m.ConnectionEnded(mediaserver.ConnectionBridge)
	m.CallbackDone("newCall", 3*time.Millisecond, nil)
	m.CallbackDone("newCall", 30*time.Millisecond, errors.New("application down"))
	m.CallbackDone("callEvent", time.Second, nil)
	m.RecordingFinished(1500*time.Millisecond, 24044)

	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mediaserver_sessions_started_total", nil, 2},
		{"mediaserver_session_duration_seconds", nil, 1},
		{"mediaserver_participants_started_total", []string{"kind", "caller"}, 1},
		{"mediaserver_participants_started_total", []string{"kind", "callee"}, 2},
		{"mediaserver_participants_started_total", []string{"kind", "ivr"}, 1},
		{"mediaserver_participants_started_total", []string{"kind", "monitor"}, 0},
		{"mediaserver_participants_ended_total", []string{"kind", "caller", "outcome", "completed"}, 1},
		{"mediaserver_participants_ended_total", []string{"kind", "callee", "outcome", "busy"}, 1},
		{"mediaserver_participants_ended_total", []string{"kind", "callee", "outcome", "noAnswer"}, 1},
		{"mediaserver_participants_ended_total", []string{"kind", "callee", "outcome", "completed"}, 0},
		{"mediaserver_connections_started_total", []string{"kind", "bridge"}, 2},
		{"mediaserver_connections_started_total", []string{"kind", "conference"}, 1},
		{"mediaserver_connections_ended_total", []string{"kind", "bridge"}, 1},
		{"mediaserver_connections_active", []string{"kind", "bridge"}, 1},
		{"mediaserver_connections_active", []string{"kind", "conference"}, 1},
		{"mediaserver_connections_active", []string{"kind", "ivr"}, 0},
		{"mediaserver_callback_duration_seconds", []string{"callback", "newCall"}, 2},
		{"mediaserver_callback_duration_seconds", []string{"callback", "callEvent"}, 1},
		{"mediaserver_callback_duration_seconds", []string{"callback", "getIvrCommand"}, 0},
		{"mediaserver_callback_failures_total", []string{"callback", "newCall"}, 1},
		{"mediaserver_callback_failures_total", []string{"callback", "callEvent"}, 0},
		{"mediaserver_recordings_total", nil, 1},
		{"mediaserver_recorded_seconds_total", nil, 1.5},
		{"mediaserver_recorded_bytes_total", nil, 24044},
	}
	for _, c := range checks {
		if got := value(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// The histograms put each observation in its bucket.
	h := series(t, reg, "mediaserver_callback_duration_seconds", "callback", "newCall").GetHistogram()
	if got := h.GetSampleSum(); math.Abs(got-0.033) > 1e-9 {
		t.Errorf("newCall latency sum %v, want 0.033", got)
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		switch {
		case b.GetUpperBound() >= 0.03:
			want = 2
		case b.GetUpperBound() >= 0.003:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("newCall bucket le=%v has %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP mediaserver_session_duration_seconds Duration of ended sessions; its count is the number of sessions ended.
# TYPE mediaserver_session_duration_seconds histogram
mediaserver_session_duration_seconds_bucket{le="1"} 0
mediaserver_session_duration_seconds_bucket{le="5"} 0
mediaserver_session_duration_seconds_bucket{le="15"} 0
mediaserver_session_duration_seconds_bucket{le="30"} 0
mediaserver_session_duration_seconds_bucket{le="60"} 0
mediaserver_session_duration_seconds_bucket{le="120"} 1
mediaserver_session_duration_seconds_bucket{le="300"} 1
mediaserver_session_duration_seconds_bucket{le="600"} 1
mediaserver_session_duration_seconds_bucket{le="1200"} 1
mediaserver_session_duration_seconds_bucket{le="1800"} 1
mediaserver_session_duration_seconds_bucket{le="3600"} 1
mediaserver_session_duration_seconds_bucket{le="7200"} 1
mediaserver_session_duration_seconds_bucket{le="14400"} 1
mediaserver_session_duration_seconds_bucket{le="+Inf"} 1
mediaserver_session_duration_seconds_sum 90
mediaserver_session_duration_seconds_count 1
`), "mediaserver_session_duration_seconds")
	if err != nil {
		t.Error(err)
	}
}

// TestLabelsAreBounded: values outside the known sets count as "other",
// so the number of series never grows with the input.
func TestLabelsAreBounded(t *testing.T) {
	reg, m := newTestMetrics(t)
	before, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		junk := fmt.Sprintf("junk%d", i)
		m.CallbackDone(junk, time.Millisecond, errors.New("x"))
		m.ConnectionStarted(junk)
		m.ConnectionEnded(junk)
		m.ParticipantStarted(mediaserver.ParticipantKind(100 + i%100))
		m.ParticipantEnded(mediaserver.ParticipantKind(100+i%100), junk)
		m.ParticipantEnded(mediaserver.KindCaller, junk)
	}
	m.ParticipantStarted(0)
	after, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("series grew from %d to %d", before, after)
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mediaserver_callback_failures_total", []string{"callback", "other"}, 1000},
		{"mediaserver_callback_duration_seconds", []string{"callback", "other"}, 1000},
		{"mediaserver_connections_started_total", []string{"kind", "other"}, 1000},
		{"mediaserver_connections_active", []string{"kind", "other"}, 0},
		{"mediaserver_participants_started_total", []string{"kind", "other"}, 1001},
		{"mediaserver_participants_ended_total", []string{"kind", "other", "outcome", "other"}, 1000},
		{"mediaserver_participants_ended_total", []string{"kind", "caller", "outcome", "other"}, 1000},
	}
	for _, c := range checks {
		if got := value(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestNegativeValues: a negative duration or size cannot panic a counter.
func TestNegativeValues(t *testing.T) {
	reg, m := newTestMetrics(t)
	m.RecordingFinished(-time.Second, -1)
	m.SessionEnded(-time.Second)
	m.CallbackDone("newCall", -time.Second, nil)
	if got := value(t, reg, "mediaserver_recordings_total"); got != 1 {
		t.Errorf("recordings %v, want 1", got)
	}
	if got := value(t, reg, "mediaserver_recorded_seconds_total"); got != 0 {
		t.Errorf("recorded seconds %v, want 0", got)
	}
	if got := series(t, reg, "mediaserver_session_duration_seconds").GetHistogram().GetSampleSum(); got != 0 {
		t.Errorf("session duration sum %v, want 0", got)
	}
}

func TestNamespaceAndConstLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg, Namespace: "edge", ConstLabels: prometheus.Labels{"instance": "a1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.attach(func() mediaserver.Stats { return mediaserver.Stats{Sessions: 2} }); err != nil {
		t.Fatal(err)
	}
	m.SessionStarted()
	if got := value(t, reg, "edge_sessions_started_total", "instance", "a1"); got != 1 {
		t.Errorf("edge_sessions_started_total = %v, want 1", got)
	}
	if got := value(t, reg, "edge_sessions_active", "instance", "a1"); got != 2 {
		t.Errorf("edge_sessions_active = %v, want 2", got)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "edge_") {
			t.Errorf("metric %s outside the namespace", f.GetName())
		}
		for _, s := range f.GetMetric() {
			if !hasLabels(s, []string{"instance", "a1"}) {
				t.Errorf("%s has no instance label", f.GetName())
			}
		}
	}
}

// fakeStats returns a Stats with a distinct value in every field.
func fakeStats() mediaserver.Stats {
	return mediaserver.Stats{
		Sessions: 3, Participants: 5, Conferences: 1, Draining: true,
		Media: media.Totals{
			PacketsIn: 1000, PacketsOut: 2000, BytesIn: 172000, BytesOut: 344000,
			Malformed: 7, Foreign: 8, UnknownPayload: 9, Digits: 4, Lost: 11, Late: 12,
			Endpoints: 6, MaxJitter: 160, Flooded: 13,
		},
		Clock: media.ClockStats{
			Ticks: 5000, Skipped: 2, MaxLag: 15 * time.Millisecond, LastLag: 250 * time.Microsecond, MaxWork: 3 * time.Millisecond,
		},
		Prompts: ivr.LibraryStats{FileHits: 20, FileMisses: 3, TTSHits: 4, TTSMisses: 1, Failures: 2},
		SIP:     sip.Stats{NotAllowed: 1, RateLimited: 2, Draining: 3, Challenged: 4, AuthFailed: 5, Invalid: 6, TLSHandshakeFailed: 7, RequestRateLimited: 9, AuthLocked: 10},

		AtCapacity: 8,
	}
}

// TestStatsCollector: one scrape exports every field of the snapshot,
// converted to base units.
func TestStatsCollector(t *testing.T) {
	reg, m := newTestMetrics(t)
	var mu sync.Mutex
	calls := 0
	err := m.attach(func() mediaserver.Stats {
		mu.Lock()
		calls++
		mu.Unlock()
		return fakeStats()
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP mediaserver_conferences_active Conference connections active now.
# TYPE mediaserver_conferences_active gauge
mediaserver_conferences_active 1
# HELP mediaserver_draining 1 once the server began to shut down, else 0.
# TYPE mediaserver_draining gauge
mediaserver_draining 1
# HELP mediaserver_dtmf_digits_total DTMF digits received.
# TYPE mediaserver_dtmf_digits_total counter
mediaserver_dtmf_digits_total 4
# HELP mediaserver_media_clock_last_lag_seconds Delay of the latest media clock tick behind its deadline.
# TYPE mediaserver_media_clock_last_lag_seconds gauge
mediaserver_media_clock_last_lag_seconds 0.00025
# HELP mediaserver_media_clock_max_lag_seconds Largest delay of a media clock tick behind its deadline.
# TYPE mediaserver_media_clock_max_lag_seconds gauge
mediaserver_media_clock_max_lag_seconds 0.015
# HELP mediaserver_media_clock_max_tick_work_seconds Longest time one media clock tick took.
# TYPE mediaserver_media_clock_max_tick_work_seconds gauge
mediaserver_media_clock_max_tick_work_seconds 0.003
# HELP mediaserver_media_clock_skipped_ticks_total Media clock ticks dropped because the clock fell behind.
# TYPE mediaserver_media_clock_skipped_ticks_total counter
mediaserver_media_clock_skipped_ticks_total 2
# HELP mediaserver_media_clock_ticks_total Media clock ticks run.
# TYPE mediaserver_media_clock_ticks_total counter
mediaserver_media_clock_ticks_total 5000
# HELP mediaserver_participants_active Participants active now, of every kind.
# TYPE mediaserver_participants_active gauge
mediaserver_participants_active 5
# HELP mediaserver_prompt_cache_hits_total Phrases served from the decoded prompt cache, by source: file or tts.
# TYPE mediaserver_prompt_cache_hits_total counter
mediaserver_prompt_cache_hits_total{source="file"} 20
mediaserver_prompt_cache_hits_total{source="tts"} 4
# HELP mediaserver_prompt_cache_misses_total Phrases read and decoded, or synthesized, by source: file or tts.
# TYPE mediaserver_prompt_cache_misses_total counter
mediaserver_prompt_cache_misses_total{source="file"} 3
mediaserver_prompt_cache_misses_total{source="tts"} 1
# HELP mediaserver_prompt_load_failures_total Phrases that could not be loaded.
# TYPE mediaserver_prompt_load_failures_total counter
mediaserver_prompt_load_failures_total 2
# HELP mediaserver_rtp_dropped_packets_total Datagrams dropped, by reason: malformed, foreign (from a source other than the latched one) or unknown_payload (payload type not negotiated).
# TYPE mediaserver_rtp_dropped_packets_total counter
mediaserver_rtp_dropped_packets_total{reason="foreign"} 8
mediaserver_rtp_dropped_packets_total{reason="malformed"} 7
mediaserver_rtp_dropped_packets_total{reason="unknown_payload"} 9
# HELP mediaserver_rtp_endpoints_active RTP endpoints open now.
# TYPE mediaserver_rtp_endpoints_active gauge
mediaserver_rtp_endpoints_active 6
# HELP mediaserver_rtp_late_packets_total RTP packets that arrived too late for the jitter buffer.
# TYPE mediaserver_rtp_late_packets_total counter
mediaserver_rtp_late_packets_total 12
# HELP mediaserver_rtp_lost_packets_total RTP packets lost (RFC 3550 cumulative loss).
# TYPE mediaserver_rtp_lost_packets_total counter
mediaserver_rtp_lost_packets_total 11
# HELP mediaserver_rtp_max_jitter_seconds Largest interarrival jitter (RFC 3550) of a live RTP endpoint.
# TYPE mediaserver_rtp_max_jitter_seconds gauge
mediaserver_rtp_max_jitter_seconds 0.02
# HELP mediaserver_rtp_received_bytes_total RTP bytes received.
# TYPE mediaserver_rtp_received_bytes_total counter
mediaserver_rtp_received_bytes_total 172000
# HELP mediaserver_rtp_received_packets_total RTP packets received.
# TYPE mediaserver_rtp_received_packets_total counter
mediaserver_rtp_received_packets_total 1000
# HELP mediaserver_rtp_sent_bytes_total RTP bytes sent.
# TYPE mediaserver_rtp_sent_bytes_total counter
mediaserver_rtp_sent_bytes_total 344000
# HELP mediaserver_rtp_sent_packets_total RTP packets sent.
# TYPE mediaserver_rtp_sent_packets_total counter
mediaserver_rtp_sent_packets_total 2000
# HELP mediaserver_sessions_active Sessions active now.
# TYPE mediaserver_sessions_active gauge
mediaserver_sessions_active 3
# HELP mediaserver_rtp_flooded_packets_total RTP packets dropped because a leg sent faster than any phone does.
# TYPE mediaserver_rtp_flooded_packets_total counter
mediaserver_rtp_flooded_packets_total 13
# HELP mediaserver_sip_refused_requests_total SIP requests refused, by reason: not_allowed (source outside the allow-list, dropped), rate_limited (INVITEs, 503), request_rate_limited (other out-of-dialog requests, dropped), draining, challenged (401), auth_failed (403), auth_locked (403 to a source locked out after failed authentications), invalid (RFC 3261 §8.2), tls_handshake_failed, max_sessions (503 at Config.MaxSessions).
# TYPE mediaserver_sip_refused_requests_total counter
mediaserver_sip_refused_requests_total{reason="auth_failed"} 5
mediaserver_sip_refused_requests_total{reason="auth_locked"} 10
mediaserver_sip_refused_requests_total{reason="challenged"} 4
mediaserver_sip_refused_requests_total{reason="draining"} 3
mediaserver_sip_refused_requests_total{reason="invalid"} 6
mediaserver_sip_refused_requests_total{reason="max_sessions"} 8
mediaserver_sip_refused_requests_total{reason="not_allowed"} 1
mediaserver_sip_refused_requests_total{reason="rate_limited"} 2
mediaserver_sip_refused_requests_total{reason="request_rate_limited"} 9
mediaserver_sip_refused_requests_total{reason="tls_handshake_failed"} 7
`
	names := []string{
		"mediaserver_conferences_active", "mediaserver_draining", "mediaserver_dtmf_digits_total",
		"mediaserver_media_clock_last_lag_seconds", "mediaserver_media_clock_max_lag_seconds",
		"mediaserver_media_clock_max_tick_work_seconds", "mediaserver_media_clock_skipped_ticks_total",
		"mediaserver_media_clock_ticks_total", "mediaserver_participants_active",
		"mediaserver_prompt_cache_hits_total", "mediaserver_prompt_cache_misses_total",
		"mediaserver_prompt_load_failures_total", "mediaserver_rtp_dropped_packets_total",
		"mediaserver_rtp_endpoints_active", "mediaserver_rtp_late_packets_total",
		"mediaserver_rtp_lost_packets_total", "mediaserver_rtp_max_jitter_seconds",
		"mediaserver_rtp_received_bytes_total", "mediaserver_rtp_received_packets_total",
		"mediaserver_rtp_sent_bytes_total", "mediaserver_rtp_sent_packets_total",
		"mediaserver_sessions_active", "mediaserver_rtp_flooded_packets_total", "mediaserver_sip_refused_requests_total",
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// The collector describes exactly what it collects.
	// Labelled metrics send more than one series: dropped 3, cache hits
	// and misses 2 each, SIP refusals 10.
	if want := len(names) + 2 + 1 + 1 + 9; testutil.CollectAndCount(m.attached) != want {
		t.Errorf("collector sends %d series, want %d", testutil.CollectAndCount(m.attached), want)
	}
	// One Stats call per scrape, whatever the number of metrics.
	mu.Lock()
	calls = 0
	mu.Unlock()
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("one scrape called Stats %d times", calls)
	}
}

// TestLostNeverDecreases: RFC 3550 loss shrinks when duplicates arrive;
// the counter keeps its largest value.
func TestLostNeverDecreases(t *testing.T) {
	reg, m := newTestMetrics(t)
	var mu sync.Mutex
	lost := int64(-3)
	err := m.attach(func() mediaserver.Stats {
		mu.Lock()
		defer mu.Unlock()
		return mediaserver.Stats{Media: media.Totals{Lost: lost}}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ lost, want int64 }{{-3, 0}, {5, 5}, {3, 5}, {9, 9}} {
		mu.Lock()
		lost = step.lost
		mu.Unlock()
		if got := value(t, reg, "mediaserver_rtp_lost_packets_total"); got != float64(step.want) {
			t.Errorf("loss %d exported as %v, want %d", step.lost, got, step.want)
		}
	}
}

func TestAttachDetach(t *testing.T) {
	reg, m := newTestMetrics(t)
	if m.Detach() {
		t.Error("Detach without a server reported one")
	}
	if err := m.Attach(nil); err == nil {
		t.Error("Attach(nil) succeeded")
	}
	one := func() mediaserver.Stats { return mediaserver.Stats{Sessions: 1} }
	two := func() mediaserver.Stats { return mediaserver.Stats{Sessions: 2} }
	if err := m.attach(one); err != nil {
		t.Fatal(err)
	}
	if err := m.attach(two); !errors.Is(err, ErrAttached) {
		t.Errorf("a second attach: %v, want ErrAttached", err)
	}
	if got := value(t, reg, "mediaserver_sessions_active"); got != 1 {
		t.Errorf("sessions_active %v, want 1", got)
	}
	if !m.Detach() {
		t.Error("Detach reported no server")
	}
	if n, _ := testutil.GatherAndCount(reg, "mediaserver_sessions_active"); n != 0 {
		t.Error("sessions_active still exported after Detach")
	}
	if err := m.attach(two); err != nil {
		t.Fatal(err)
	}
	if got := value(t, reg, "mediaserver_sessions_active"); got != 2 {
		t.Errorf("sessions_active %v, want 2", got)
	}
	// Another Metrics on the same registry cannot attach over the names.
	other, err := New(Config{Registerer: reg, Namespace: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.attach(one); err != nil {
		t.Errorf("attach under another namespace: %v", err)
	}
}

// TestLint: the names, units and help texts pass promlint.
func TestLint(t *testing.T) {
	reg, m := newTestMetrics(t)
	if err := m.attach(fakeStats); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestObserverConcurrent: the Observer is called from many goroutines at
// once (run with -race) and loses nothing.
func TestObserverConcurrent(t *testing.T) {
	reg, m := newTestMetrics(t)
	if err := m.attach(fakeStats); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				m.SessionStarted()
				m.ParticipantStarted(mediaserver.KindCaller)
				m.ConnectionStarted(mediaserver.ConnectionIVR)
				m.CallbackDone("getIvrCommand", time.Millisecond, nil)
				m.ConnectionEnded(mediaserver.ConnectionIVR)
				m.ParticipantEnded(mediaserver.KindCaller, mediaserver.OutcomeCompleted)
				m.SessionEnded(time.Second)
			}
		})
	}
	// Scrape meanwhile.
	wg.Go(func() {
		for range 20 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	n := float64(workers * each)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mediaserver_sessions_started_total", nil, n},
		{"mediaserver_session_duration_seconds", nil, n},
		{"mediaserver_participants_ended_total", []string{"kind", "caller", "outcome", "completed"}, n},
		{"mediaserver_connections_started_total", []string{"kind", "ivr"}, n},
		{"mediaserver_connections_active", []string{"kind", "ivr"}, 0},
		{"mediaserver_callback_duration_seconds", []string{"callback", "getIvrCommand"}, n},
	}
	for _, c := range checks {
		if got := value(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestObserverDoesNotAllocate: the Observer methods sit on the servers'
// session loops; they only update series resolved in New.
func TestObserverDoesNotAllocate(t *testing.T) {
	_, m := newTestMetrics(t)
	fail := errors.New("x")
	allocs := testing.AllocsPerRun(100, func() { observeAll(m, fail) })
	if allocs != 0 {
		t.Errorf("Observer methods allocate %v times per round", allocs)
	}
}

func observeAll(m *Metrics, err error) {
	m.SessionStarted()
	m.ParticipantStarted(mediaserver.KindCallee)
	m.ConnectionStarted(mediaserver.ConnectionBridge)
	m.CallbackDone("callEvent", 2*time.Millisecond, err)
	m.CallbackDone("unknownCallback", 2*time.Millisecond, nil)
	m.RecordingFinished(time.Second, 16044)
	m.ConnectionEnded(mediaserver.ConnectionBridge)
	m.ParticipantEnded(mediaserver.KindCallee, mediaserver.ReasonBusy)
	m.SessionEnded(time.Minute)
}

// BenchmarkObserver measures one round of every Observer method.
func BenchmarkObserver(b *testing.B) {
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	fail := errors.New("x")
	b.ReportAllocs()
	for b.Loop() {
		observeAll(m, fail)
	}
}

// BenchmarkObserverParallel measures the Observer under contention.
func BenchmarkObserverParallel(b *testing.B) {
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			observeAll(m, nil)
		}
	})
}
