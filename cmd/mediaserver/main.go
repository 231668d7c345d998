// Command mediaserver is the ready self-hosted SIP media server: it speaks
// the iotcomms "SIP Mediaserver Service" protocol over HTTP, so that an
// application written for the hosted service works unchanged. It POSTs the
// callbacks (/newCall, /callEvent, /getIvrCommand, ...) to -callback-url,
// signed when a key or secret is given, and serves the REST API
// (/placeivrcall, /splitconnection, /promptfile/{filename}, ...) and the
// operator paths /healthz, /readyz and /openapi.json on -api-addr.
//
//	mediaserver -callback-url http://127.0.0.1:3000/ms
//	mediaserver -sip-addr 0.0.0.0:5060 -public-ip 192.0.2.1 -api-addr 0.0.0.0:8080 \
//	    -api-jwt-key app-public.pem -callback-url https://app.example.com/ms \
//	    -callback-signing-key callback-private.pem -domain tenant.example.com
//
// Every flag can also be given as an environment variable MEDIASERVER_<NAME>
// (e.g. MEDIASERVER_CALLBACK_URL, MEDIASERVER_API_TOKEN); a flag on the
// command line wins. Prefer the environment for secrets.
//
// Several instances run behind a SIP load balancer such as Kamailio's
// dispatcher (docs/SCALING.md): each has its own -instance-id, and -peers
// lists the others' API base URLs, so that a REST call for another
// instance's object is answered 421 with its owner's URL.
//
// SIGINT or SIGTERM drains: /readyz turns 503, new calls get 503, active
// calls may run for -drain-timeout and are then hung up, the queued
// sessionCompleted and recordingReady callbacks are delivered, and the
// HTTP server stops last. A second signal hangs up at once.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
}
