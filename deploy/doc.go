// Package deploy runs the scale-out setup of docs/SCALING.md on one
// machine: several cmd/mediaserver instances on 127.0.0.1 (each with its
// own SIP, API and RTP ports, instance ID and data directory, and -peers
// naming the others) behind Kamailio's dispatcher module, a webhook
// application, and SIPp calls sent to Kamailio, optionally draining one
// instance while calls run.
//
// The files beside this one are the setup itself, embedded here so that
// what runs is what is documented:
//
//   - kamailio.cfg: dispatcher over set 1, round robin, OPTIONS probing of
//     every instance (ds_probing_mode 1), a failure route that retries the
//     next instance on 503, 408 or no answer, record-routing;
//   - dispatcher.list: set 1 for the default ports (Cluster writes its own);
//   - uac.xml: the SIPp caller (INVITE to Kamailio, ACK and BYE along the
//     route set, a tone for the call's length).
//
// The program deploy/cluster (go run ./deploy/cluster, or
// deploy/run-cluster.sh) starts the whole setup, runs the calls, drains
// one instance and prints the calls per instance; the package's test runs
// a short version of the same Run. App is the webhook application: it
// answers every call with an IVR that plays a prompt, sends one REST call
// per session to the instance that owns it, found by the apiBaseUrl of
// the session's callbacks (first to a wrong instance on purpose, which
// must answer 421 with the owner's URL), and reports what each instance
// did.
//
// Processes: Cluster starts each program in its own process group with
// its output in a log file in Config.Dir, and ends it by its PID (the
// group's ID for Kamailio's worker processes); SIPp also has its own
// -timeout. Everything binds 127.0.0.1 only.
package deploy
