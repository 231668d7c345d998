// Package flows is the examples document's flows written once — the
// auto-attendant, recording with download, monitoring, /placeivrcall,
// attended transfer and conference — as scripted application logic, the
// callback sequence each must produce, and checks of who hears what by
// content, so that the same table runs in-process and over HTTP.
//
// A Flow's application is a Recorder: a mediaserver.Handler (with every
// optional interface) that records each callback and answers with the
// flow's script. Two drivers run it:
//
//   - in-process (StartLocal): the Recorder is the server's Handler and the
//     flow's REST-style operations are Server methods (Local);
//   - over HTTP: Webhook serves the same Recorder as a webhook application
//     (JSON in, JSON out, signatures checked with callback.Verify), and
//     the operations are REST calls to the server's API (REST), e.g. against
//     cmd/mediaserver run as a process (see e2e/).
//
// Since both drivers run the same Handler logic, a flow must produce the
// same callback sequence either way (Flow.Want): that is the check that the
// HTTP adapter is translation only.
//
// Goroutines: a Recorder starts none; StartLocal's server and the phones a
// Rig creates are closed by the test's cleanups.
package flows
