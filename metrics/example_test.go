package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Example wires the metrics into an embedding program: the Observer goes
// in the server's Config, the server is attached once it exists, and the
// registry is served on the program's operator mux.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(metrics.Config{Registerer: reg})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := mediaserver.New(mediaserver.Config{
		SIPAddr:  "127.0.0.1:5060",
		Observer: m,
		Handler: mediaserver.HandlerFuncs{
			NewCallFunc: func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
				return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Attach(srv); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	hs := &http.Server{Addr: "127.0.0.1:9090", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()
	defer hs.Close()

	if err := srv.Serve(ctx); !errors.Is(err, mediaserver.ErrServerClosed) {
		log.Print(err)
	}
}

// ExampleNew shows what the Observer side counts, without a server.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registerer: reg, Namespace: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	// What a server reports for a call to a busy callee.
	m.SessionStarted()
	m.ParticipantStarted(mediaserver.KindCaller)
	m.CallbackDone("newCall", 2*time.Millisecond, nil)
	m.ParticipantStarted(mediaserver.KindCallee)
	m.ParticipantEnded(mediaserver.KindCallee, mediaserver.ReasonBusy)
	m.CallbackDone("callEvent", time.Millisecond, nil)
	m.ParticipantEnded(mediaserver.KindCaller, mediaserver.OutcomeCompleted)
	m.SessionEnded(3 * time.Second)

	// Print the counters that moved, as a scrape would show them.
	fams, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			if s.GetCounter().GetValue() == 0 {
				continue
			}
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			fmt.Printf("%s{%s} %v\n", f.GetName(), strings.Join(labels, ","), s.GetCounter().GetValue())
		}
	}
	// Output:
	// demo_participants_ended_total{kind="callee",outcome="busy"} 1
	// demo_participants_ended_total{kind="caller",outcome="completed"} 1
	// demo_participants_started_total{kind="callee"} 1
	// demo_participants_started_total{kind="caller"} 1
	// demo_sessions_started_total{} 1
}
