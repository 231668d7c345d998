package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Standalone builds the metrics on a registry of their own, together with
// the Go runtime and process collectors, and returns the http.Handler that
// serves it: for a program such as cmd/mediaserver that does not use
// client_golang itself (this package stays its only importer).
// cfg.Registerer is ignored.
func Standalone(cfg Config) (*Metrics, http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, err
	}
	cfg.Registerer = reg
	m, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return m, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), nil
}
