package metrics

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures Metrics. The zero value of each optional field means
// its default; New copies it and never changes it afterwards.
type Config struct {
	// Registerer receives the metrics. Required: the package never uses
	// prometheus.DefaultRegisterer, so pass prometheus.NewRegistry() (or
	// the default registerer on purpose).
	Registerer prometheus.Registerer
	// Namespace is the first part of every metric name, e.g.
	// mediaserver_sessions_active. Letters, digits and underscores, not
	// starting with a digit. Default "mediaserver".
	Namespace string
	// ConstLabels are added to every metric, e.g. {"instance": "a1"} when
	// several servers share a registry. Optional.
	ConstLabels prometheus.Labels
	// SessionBuckets are the upper bounds, in seconds, of the session
	// duration histogram, strictly increasing. Default 1 s to 4 h.
	SessionBuckets []float64
	// CallbackBuckets are the upper bounds, in seconds, of the callback
	// latency histogram, strictly increasing. Default 0.5 ms to 10 s.
	CallbackBuckets []float64
}

// Default histogram buckets, in seconds.
var (
	defaultSessionBuckets  = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}
	defaultCallbackBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// namePart is a metric name part or label name in the classic character set.
var namePart = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// withDefaults returns a copy of c with its defaults filled in.
func (c Config) withDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = "mediaserver"
	}
	if c.SessionBuckets == nil {
		c.SessionBuckets = defaultSessionBuckets
	}
	if c.CallbackBuckets == nil {
		c.CallbackBuckets = defaultCallbackBuckets
	}
	c.SessionBuckets = slices.Clone(c.SessionBuckets)
	c.CallbackBuckets = slices.Clone(c.CallbackBuckets)
	if c.ConstLabels != nil {
		labels := make(prometheus.Labels, len(c.ConstLabels))
		for k, v := range c.ConstLabels {
			labels[k] = v
		}
		c.ConstLabels = labels
	}
	return c
}

// validate reports every invalid field, joined.
func (c Config) validate() error {
	var errs []error
	if c.Registerer == nil {
		errs = append(errs, &ConfigError{Field: "Registerer", Reason: "required"})
	}
	if !namePart.MatchString(c.Namespace) {
		errs = append(errs, &ConfigError{Field: "Namespace", Reason: fmt.Sprintf("%q is not a metric name part", c.Namespace)})
	}
	for name := range c.ConstLabels {
		// "le" would make the histograms panic; "__" is reserved.
		if !namePart.MatchString(name) || name == "le" || strings.HasPrefix(name, "__") {
			errs = append(errs, &ConfigError{Field: "ConstLabels", Reason: fmt.Sprintf("%q is not a usable label name", name)})
		}
	}
	errs = append(errs, checkBuckets("SessionBuckets", c.SessionBuckets), checkBuckets("CallbackBuckets", c.CallbackBuckets))
	return errors.Join(errs...)
}

// checkBuckets refuses what prometheus.NewHistogram would panic on.
func checkBuckets(field string, b []float64) error {
	if len(b) == 0 {
		return &ConfigError{Field: field, Reason: "empty"}
	}
	for i := 1; i < len(b); i++ {
		if !(b[i] > b[i-1]) {
			return &ConfigError{Field: field, Reason: "not strictly increasing"}
		}
	}
	return nil
}

// Metrics exports the server's metrics to Prometheus. It is the
// mediaserver.Observer that counts the server's events (put it in
// mediaserver.Config.Observer), and with Attach it also exports the
// server's Stats on every scrape.
//
// All its methods are safe for concurrent use. The Observer methods never
// block and do not allocate: every label value is resolved to its series
// in New.
type Metrics struct {
	reg  prometheus.Registerer
	pull *statsDescs

	sessionsStarted prometheus.Counter
	sessionDuration prometheus.Observer
	partStarted     [numKinds]prometheus.Counter
	// partEnded maps, per kind index, an outcome to its series; each map
	// has labelOther. The maps are never written after New.
	partEnded       [numKinds]map[string]prometheus.Counter
	conns           map[string]*connSeries // by kind, with labelOther
	callbacks       map[string]*callbackSeries
	recordings      prometheus.Counter
	recordedSeconds prometheus.Counter
	recordedBytes   prometheus.Counter

	mu       sync.Mutex      // guards attached
	attached *statsCollector // the registered server collector, or nil
}

// connSeries are the series of one connection kind.
type connSeries struct {
	started, ended prometheus.Counter
	active         prometheus.Gauge
}

// callbackSeries are the series of one callback name.
type callbackSeries struct {
	duration prometheus.Observer
	failures prometheus.Counter
}

var _ mediaserver.Observer = (*Metrics)(nil)

// New creates the metrics of cfg and registers the event metrics on
// cfg.Registerer. It returns a *ConfigError (several joined with
// errors.Join) for an invalid cfg, or the Registerer's error, e.g. a
// prometheus.AlreadyRegisteredError when the registry holds metrics of the
// same names; nothing stays registered then.
func New(cfg Config) (*Metrics, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	v := newEventVecs(cfg)
	m := &Metrics{
		reg:             cfg.Registerer,
		pull:            newStatsDescs(cfg.Namespace, cfg.ConstLabels),
		sessionsStarted: v.sessionsStarted,
		sessionDuration: v.sessionDuration,
		recordings:      v.recordings,
		recordedSeconds: v.recordedSeconds,
		recordedBytes:   v.recordedBytes,
	}
	m.resolve(v)
	if err := cfg.Registerer.Register(v.all()); err != nil {
		return nil, fmt.Errorf("metrics: register: %w", err)
	}
	return m, nil
}

// eventVecs are the collectors of the event metrics.
type eventVecs struct {
	sessionsStarted                            prometheus.Counter
	sessionDuration                            prometheus.Histogram
	partStarted, partEnded                     *prometheus.CounterVec
	connStarted, connEnded                     *prometheus.CounterVec
	connActive                                 *prometheus.GaugeVec
	cbDuration                                 *prometheus.HistogramVec
	cbFailures                                 *prometheus.CounterVec
	recordings, recordedSeconds, recordedBytes prometheus.Counter
}

func newEventVecs(cfg Config) *eventVecs {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: cfg.Namespace, Name: name, Help: help, ConstLabels: cfg.ConstLabels}
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts(opts(name, help)))
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts(opts(name, help)), labels)
	}
	histogram := func(name, help string, buckets []float64) prometheus.HistogramOpts {
		return prometheus.HistogramOpts{Namespace: cfg.Namespace, Name: name, Help: help, ConstLabels: cfg.ConstLabels, Buckets: buckets}
	}
	return &eventVecs{
		sessionsStarted: counter("sessions_started_total", "Sessions started: inbound calls and placed IVR calls."),
		sessionDuration: prometheus.NewHistogram(histogram("session_duration_seconds", "Duration of ended sessions; its count is the number of sessions ended.", cfg.SessionBuckets)),
		partStarted:     counterVec("participants_started_total", "Participants started, by kind (caller, callee, ivr, monitor).", "kind"),
		partEnded:       counterVec("participants_ended_total", "Participants ended, by kind and outcome (completed, cancelled, rejected, busy, noAnswer, unreachable).", "kind", "outcome"),
		connStarted:     counterVec("connections_started_total", "Connections established, by kind (bridge, ivr, conference).", "kind"),
		connEnded:       counterVec("connections_ended_total", "Connections dissolved, by kind.", "kind"),
		connActive:      prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("connections_active", "Connections active now, by kind.")), []string{"kind"}),
		cbDuration:      prometheus.NewHistogramVec(histogram("callback_duration_seconds", "Time the application took to answer a callback, by callback name.", cfg.CallbackBuckets), []string{"callback"}),
		cbFailures:      counterVec("callback_failures_total", "Callbacks that failed (error, timeout or panic), by callback name.", "callback"),
		recordings:      counter("recordings_total", "Recording files written."),
		recordedSeconds: counter("recorded_seconds_total", "Audio written to recording files."),
		recordedBytes:   counter("recorded_bytes_total", "Size of the recording files written."),
	}
}

// all returns every collector of v as one.
func (v *eventVecs) all() multiCollector {
	return multiCollector{
		v.sessionsStarted, v.sessionDuration, v.partStarted, v.partEnded, v.connStarted, v.connEnded,
		v.connActive, v.cbDuration, v.cbFailures, v.recordings, v.recordedSeconds, v.recordedBytes,
	}
}

// resolve creates every series of the labelled event metrics: the Observer
// methods then only look up, and every series is exported from the start,
// at 0.
func (m *Metrics) resolve(v *eventVecs) {
	for i := range numKinds {
		kind := kindLabel(i)
		m.partStarted[i] = v.partStarted.WithLabelValues(kind)
		m.partEnded[i] = make(map[string]prometheus.Counter, len(outcomes)+1)
		for _, o := range append(outcomes[:], labelOther) {
			m.partEnded[i][o] = v.partEnded.WithLabelValues(kind, o)
		}
	}
	m.conns = make(map[string]*connSeries, len(connectionKinds)+1)
	for _, kind := range append(connectionKinds[:], labelOther) {
		m.conns[kind] = &connSeries{
			started: v.connStarted.WithLabelValues(kind),
			ended:   v.connEnded.WithLabelValues(kind),
			active:  v.connActive.WithLabelValues(kind),
		}
	}
	m.callbacks = make(map[string]*callbackSeries, len(callbackNames)+1)
	for _, name := range append(callbackNames[:], labelOther) {
		m.callbacks[name] = &callbackSeries{
			duration: v.cbDuration.WithLabelValues(name),
			failures: v.cbFailures.WithLabelValues(name),
		}
	}
}

// multiCollector registers several collectors as one, so that New
// registers all or nothing.
type multiCollector []prometheus.Collector

func (mc multiCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range mc {
		c.Describe(ch)
	}
}

func (mc multiCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range mc {
		c.Collect(ch)
	}
}

// SessionStarted counts a session (mediaserver.Observer).
func (m *Metrics) SessionStarted() { m.sessionsStarted.Inc() }

// SessionEnded observes the duration of an ended session
// (mediaserver.Observer).
func (m *Metrics) SessionEnded(d time.Duration) { m.sessionDuration.Observe(seconds(d)) }

// ParticipantStarted counts a participant by kind (mediaserver.Observer).
func (m *Metrics) ParticipantStarted(kind mediaserver.ParticipantKind) {
	m.partStarted[kindIndex(kind)].Inc()
}

// ParticipantEnded counts an ended participant by kind and outcome
// (mediaserver.Observer). An outcome outside the known set counts as
// "other".
func (m *Metrics) ParticipantEnded(kind mediaserver.ParticipantKind, outcome string) {
	byOutcome := m.partEnded[kindIndex(kind)]
	c, ok := byOutcome[outcome]
	if !ok {
		c = byOutcome[labelOther]
	}
	c.Inc()
}

// ConnectionStarted counts a connection by kind and adds it to the active
// ones (mediaserver.Observer). An unknown kind counts as "other".
func (m *Metrics) ConnectionStarted(kind string) {
	s := m.conn(kind)
	s.started.Inc()
	s.active.Inc()
}

// ConnectionEnded counts an ended connection by kind and removes it from
// the active ones (mediaserver.Observer).
func (m *Metrics) ConnectionEnded(kind string) {
	s := m.conn(kind)
	s.ended.Inc()
	s.active.Dec()
}

func (m *Metrics) conn(kind string) *connSeries {
	if s, ok := m.conns[kind]; ok {
		return s
	}
	return m.conns[labelOther]
}

// CallbackDone observes the latency of a Handler call by callback name,
// and counts it as failed when err is not nil (mediaserver.Observer). A
// name outside the protocol's callbacks counts as "other".
func (m *Metrics) CallbackDone(name string, d time.Duration, err error) {
	s, ok := m.callbacks[name]
	if !ok {
		s = m.callbacks[labelOther]
	}
	s.duration.Observe(seconds(d))
	if err != nil {
		s.failures.Inc()
	}
}

// RecordingFinished counts a recording file written, its audio duration
// and its size (mediaserver.Observer).
func (m *Metrics) RecordingFinished(d time.Duration, size int64) {
	m.recordings.Inc()
	m.recordedSeconds.Add(seconds(d))
	m.recordedBytes.Add(float64(max(size, 0)))
}

// seconds converts d to seconds, never below 0 (a counter panics on a
// negative increment).
func seconds(d time.Duration) float64 { return max(d, 0).Seconds() }
