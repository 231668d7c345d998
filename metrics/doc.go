// Package metrics exports the metrics of a mediaserver.Server to
// Prometheus.
//
// It sits above the root package (metrics ──> mediaserver) and is the only
// package of the module that imports client_golang. It keeps no global
// state and never touches prometheus.DefaultRegisterer: the metrics go to
// the prometheus.Registerer that the embedder puts in Config.
//
// A *Metrics has two sides:
//
//   - Events: it implements mediaserver.Observer, so the server pushes
//     what happens (sessions, participants, connections, callbacks,
//     recordings) into counters, gauges and histograms. Put it in
//     mediaserver.Config.Observer; it exists before the server does.
//   - State: Metrics.Attach registers a collector that reads
//     Server.Stats() once per scrape and exports the server's gauges and
//     its media totals (RTP, media clock, prompt caches) straight from
//     that snapshot, as constant metrics.
//
// # Wiring
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(metrics.Config{Registerer: reg})
//	if err != nil {
//		return err
//	}
//	srv, err := mediaserver.New(mediaserver.Config{Handler: app, Observer: m})
//	if err != nil {
//		return err
//	}
//	if err := m.Attach(srv); err != nil {
//		return err
//	}
//	mux := http.NewServeMux() // the embedder's operator mux (DESIGN.md decision 19)
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
//
// Register the Go and process collectors (package
// prometheus/collectors) on the same registry if you want them.
//
// # Metrics
//
// Every name starts with Config.Namespace, "mediaserver" by default, and
// carries Config.ConstLabels. From the events:
//
//	sessions_started_total                counter
//	session_duration_seconds              histogram; its _count is the sessions ended
//	participants_started_total            counter    kind
//	participants_ended_total              counter    kind, outcome
//	connections_started_total             counter    kind
//	connections_ended_total               counter    kind
//	connections_active                    gauge      kind
//	callback_duration_seconds             histogram  callback
//	callback_failures_total               counter    callback
//	recordings_total                      counter
//	recorded_seconds_total                counter
//	recorded_bytes_total                  counter
//
// From Server.Stats, once Attach was called:
//
//	sessions_active, participants_active, conferences_active   gauge
//	draining                              gauge, 1 once Shutdown or Close began
//	rtp_endpoints_active                  gauge
//	rtp_received_packets_total, rtp_sent_packets_total         counter
//	rtp_received_bytes_total, rtp_sent_bytes_total             counter
//	rtp_dropped_packets_total             counter    reason
//	rtp_flooded_packets_total             counter
//	rtp_lost_packets_total                counter
//	rtp_late_packets_total                counter
//	dtmf_digits_total                     counter
//	rtp_max_jitter_seconds                gauge
//	media_clock_ticks_total, media_clock_skipped_ticks_total   counter
//	media_clock_max_lag_seconds, media_clock_last_lag_seconds  gauge
//	media_clock_max_tick_work_seconds     gauge
//	prompt_cache_hits_total, prompt_cache_misses_total         counter    source
//	prompt_load_failures_total            counter
//	sip_refused_requests_total            counter    reason
//
// Label values come from fixed sets, and a value outside its set counts
// as "other", so a bug cannot create series without bound:
//
//	kind (participants)  caller, callee, ivr, monitor
//	outcome              completed, cancelled, rejected, busy, noAnswer, unreachable
//	kind (connections)   bridge, ivr, conference
//	callback             newCall, callEvent, getIvrCommand, callNotify, callAnswered,
//	                     sessionCompleted, recordingReady
//	reason (RTP)         malformed, foreign, unknown_payload
//	reason (SIP)         not_allowed, rate_limited, request_rate_limited, draining,
//	                     challenged, auth_failed, auth_locked, invalid,
//	                     tls_handshake_failed, max_sessions
//	source               file, tts
//
// Every series of the event metrics exists from New on, at 0.
// rtp_lost_packets_total never decreases: RFC 3550 loss shrinks when
// duplicates arrive, and the collector exports the largest value it saw.
//
// # Concurrency
//
// The package starts no goroutine. The Observer methods run on the
// server's goroutines, concurrently; they only update client_golang
// series resolved in New, so they never block and do not allocate. The
// Stats collector runs on the goroutine of each scrape.
package metrics
