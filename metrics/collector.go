package metrics

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/mediaserver-go/mediaserver"
	"github.com/prometheus/client_golang/prometheus"
)

// rtpClockRate is the RTP timestamp rate of the jitter in media.Totals.
const rtpClockRate = 8000

// statsDescs describe the metrics read from mediaserver.Stats.
type statsDescs struct {
	sessions, participants, conferences, draining, endpoints *prometheus.Desc

	packetsIn, packetsOut, bytesIn, bytesOut *prometheus.Desc
	dropped, lost, late, digits, maxJitter   *prometheus.Desc

	ticks, skipped, maxLag, lastLag, maxWork *prometheus.Desc

	cacheHits, cacheMisses, promptFailures *prometheus.Desc

	sipRefused, flooded *prometheus.Desc
}

func newStatsDescs(namespace string, constLabels prometheus.Labels) *statsDescs {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, constLabels)
	}
	return &statsDescs{
		sessions:     desc("sessions_active", "Sessions active now."),
		participants: desc("participants_active", "Participants active now, of every kind."),
		conferences:  desc("conferences_active", "Conference connections active now."),
		draining:     desc("draining", "1 once the server began to shut down, else 0."),
		endpoints:    desc("rtp_endpoints_active", "RTP endpoints open now."),

		packetsIn:  desc("rtp_received_packets_total", "RTP packets received."),
		packetsOut: desc("rtp_sent_packets_total", "RTP packets sent."),
		bytesIn:    desc("rtp_received_bytes_total", "RTP bytes received."),
		bytesOut:   desc("rtp_sent_bytes_total", "RTP bytes sent."),
		dropped:    desc("rtp_dropped_packets_total", "Datagrams dropped, by reason: malformed, foreign (from a source other than the latched one) or unknown_payload (payload type not negotiated).", "reason"),
		lost:       desc("rtp_lost_packets_total", "RTP packets lost (RFC 3550 cumulative loss)."),
		late:       desc("rtp_late_packets_total", "RTP packets that arrived too late for the jitter buffer."),
		digits:     desc("dtmf_digits_total", "DTMF digits received."),
		maxJitter:  desc("rtp_max_jitter_seconds", "Largest interarrival jitter (RFC 3550) of a live RTP endpoint."),

		ticks:   desc("media_clock_ticks_total", "Media clock ticks run."),
		skipped: desc("media_clock_skipped_ticks_total", "Media clock ticks dropped because the clock fell behind."),
		maxLag:  desc("media_clock_max_lag_seconds", "Largest delay of a media clock tick behind its deadline."),
		lastLag: desc("media_clock_last_lag_seconds", "Delay of the latest media clock tick behind its deadline."),
		maxWork: desc("media_clock_max_tick_work_seconds", "Longest time one media clock tick took."),

		cacheHits:      desc("prompt_cache_hits_total", "Phrases served from the decoded prompt cache, by source: file or tts.", "source"),
		cacheMisses:    desc("prompt_cache_misses_total", "Phrases read and decoded, or synthesized, by source: file or tts.", "source"),
		promptFailures: desc("prompt_load_failures_total", "Phrases that could not be loaded."),

		sipRefused: desc("sip_refused_requests_total", "SIP requests refused, by reason: not_allowed (source outside the allow-list, dropped), rate_limited (INVITEs, 503), request_rate_limited (other out-of-dialog requests, dropped), draining, challenged (401), auth_failed (403), auth_locked (403 to a source locked out after failed authentications), invalid (RFC 3261 §8.2), tls_handshake_failed, max_sessions (503 at Config.MaxSessions).", "reason"),
		flooded:    desc("rtp_flooded_packets_total", "RTP packets dropped because a leg sent faster than any phone does."),
	}
}

// statsCollector exports a server's Stats, read once per scrape.
type statsCollector struct {
	d     *statsDescs
	stats func() mediaserver.Stats
	// lost is the largest loss exported so far: RFC 3550 loss can shrink
	// when duplicates arrive, but a counter must not.
	lost atomic.Int64
}

// Describe sends the descriptors of every metric Collect sends
// (prometheus.Collector).
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	d := c.d
	for _, desc := range []*prometheus.Desc{
		d.sessions, d.participants, d.conferences, d.draining, d.endpoints,
		d.packetsIn, d.packetsOut, d.bytesIn, d.bytesOut, d.dropped, d.lost, d.late, d.digits, d.maxJitter,
		d.ticks, d.skipped, d.maxLag, d.lastLag, d.maxWork,
		d.cacheHits, d.cacheMisses, d.promptFailures,
		d.sipRefused, d.flooded,
	} {
		ch <- desc
	}
}

// Collect reads the server's Stats once and sends them as constant
// metrics (prometheus.Collector).
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	d := c.d
	send := func(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(desc, t, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		send(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		send(desc, prometheus.CounterValue, float64(v), labels...)
	}

	gauge(d.sessions, float64(st.Sessions))
	gauge(d.participants, float64(st.Participants))
	gauge(d.conferences, float64(st.Conferences))
	gauge(d.draining, boolValue(st.Draining))
	gauge(d.endpoints, float64(st.Media.Endpoints))

	mt := st.Media
	counter(d.packetsIn, mt.PacketsIn)
	counter(d.packetsOut, mt.PacketsOut)
	counter(d.bytesIn, mt.BytesIn)
	counter(d.bytesOut, mt.BytesOut)
	counter(d.dropped, mt.Malformed, "malformed")
	counter(d.dropped, mt.Foreign, "foreign")
	counter(d.dropped, mt.UnknownPayload, "unknown_payload")
	send(d.lost, prometheus.CounterValue, float64(c.monotonicLost(mt.Lost)))
	counter(d.late, mt.Late)
	counter(d.digits, mt.Digits)
	gauge(d.maxJitter, float64(mt.MaxJitter)/rtpClockRate)

	ck := st.Clock
	counter(d.ticks, ck.Ticks)
	counter(d.skipped, ck.Skipped)
	gauge(d.maxLag, ck.MaxLag.Seconds())
	gauge(d.lastLag, ck.LastLag.Seconds())
	gauge(d.maxWork, ck.MaxWork.Seconds())

	p := st.Prompts
	counter(d.cacheHits, p.FileHits, "file")
	counter(d.cacheHits, p.TTSHits, "tts")
	counter(d.cacheMisses, p.FileMisses, "file")
	counter(d.cacheMisses, p.TTSMisses, "tts")
	counter(d.promptFailures, p.Failures)

	sp := st.SIP
	for _, r := range []struct {
		reason string
		v      uint64
	}{
		{"not_allowed", sp.NotAllowed}, {"rate_limited", sp.RateLimited}, {"request_rate_limited", sp.RequestRateLimited}, {"draining", sp.Draining},
		{"challenged", sp.Challenged}, {"auth_failed", sp.AuthFailed}, {"auth_locked", sp.AuthLocked}, {"invalid", sp.Invalid},
		{"tls_handshake_failed", sp.TLSHandshakeFailed}, {"max_sessions", st.AtCapacity},
	} {
		counter(d.sipRefused, r.v, r.reason)
	}
	counter(d.flooded, mt.Flooded)
}

// monotonicLost returns the largest of v and every loss exported before,
// never below 0.
func (c *statsCollector) monotonicLost(v int64) int64 {
	for {
		prev := c.lost.Load()
		if v <= prev {
			return prev
		}
		if c.lost.CompareAndSwap(prev, v) {
			return v
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Attach registers a collector that reads srv.Stats() on every scrape and
// exports the server's active sessions, participants and conferences, its
// draining state, the RTP totals, the media clock's timing and the prompt
// caches. It is meant to be called once, after mediaserver.New, with the
// server whose Config.Observer is m. Attach returns ErrAttached when a
// server is attached already (Detach it first), or the Registerer's
// error. It is safe for concurrent use.
func (m *Metrics) Attach(srv *mediaserver.Server) error {
	if srv == nil {
		return errors.New("metrics: Attach with a nil server")
	}
	return m.attach(srv.Stats)
}

// attach registers a collector over stats; tests pass fake statistics.
func (m *Metrics) attach(stats func() mediaserver.Stats) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.attached != nil {
		return ErrAttached
	}
	c := &statsCollector{d: m.pull, stats: stats}
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register server collector: %w", err)
	}
	m.attached = c
	return nil
}

// Detach unregisters the collector of the attached server, so that
// another can be attached; the event metrics stay. It reports whether a
// server was attached. It is safe for concurrent use.
func (m *Metrics) Detach() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.attached == nil {
		return false
	}
	m.reg.Unregister(m.attached)
	m.attached = nil
	return true
}
