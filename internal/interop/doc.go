// Package interop drives SIP peers that nobody on the team wrote — SIPp and
// baresip — from Go tests, and checks by content what they sent and heard.
// It follows /work/shared/INTEROP.md (the commands, ports and traps of each
// peer) and is used by the end-to-end interoperability tests, e.g.
// examples/forward/interop_test.go.
//
// What it provides:
//
//   - process.go: Start runs an external program bounded by the test's
//     context (killed by PID), logs its stdout and stderr to a file, and
//     prints its logs when the test fails;
//   - sipp.go, sippmedia.go: SIPp caller and callee scenarios generated as
//     XML (SIPp does not substitute keywords in attributes, so file names and
//     pauses are written in), StartSIPp, SIPp's shipped RFC 4733 pcaps and
//     their variants (payload type, first-packet duration);
//   - baresip.go, ctrl.go: a headless baresip with aufile, sndfile and
//     ctrl_tcp, and a ctrl_tcp client (JSON in netstrings) that waits for
//     events such as CALL_DTMF_START;
//   - capture.go, pcap.go, rtp.go: a dumpcap capture on lo that is known to
//     run before the call and to hold every packet after it (marker datagrams
//     on a probe port), a pcap reader, RTP extraction, G.711 decoding and RFC
//     4733 event parsing, since SIPp records nothing of what it receives;
//   - audio.go: tone files for SIPp (raw µ-law) and baresip (WAV), and tone
//     analysis through mediaservertest's Goertzel share;
//   - ports.go, lock.go: waiting for a UDP port to be bound (from
//     /proc/net/udp), and LockPorts, a machine-wide lock that makes two runs
//     of the same fixed-port tests wait for each other instead of colliding.
//
// Everything binds 127.0.0.1 only. Each peer takes fixed ports that the
// calling test owns; choose them apart from INTEROP.md's table and from other
// test packages, since packages run in parallel, and hold LockPorts while
// using them, since several people may run the whole suite on one machine. The capture needs root (or
// dumpcap with CAP_NET_RAW and CAP_NET_ADMIN) and SIPp's play_pcap_audio needs
// root or CAP_NET_RAW: the helpers skip the test with the reason when a tool
// or a privilege is missing, never pass silently.
//
// Concurrency: Process and Ctrl are safe for concurrent use and each owns one
// goroutine (the process reaper, the ctrl_tcp reader) that ends with the
// process or Close; Start and StartBaresip register cleanups that end them.
// Capture is for one goroutine.
//
// RFCs: 3261 (SIP), 3264 (offer/answer), 3550 (RTP), 3551 (PCMU), 4733
// (telephone-event).
package interop
