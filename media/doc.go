// Package media is the media plane of the server: RTP and RTCP, G.711,
// DTMF, jitter buffering and tone generation for 8 kHz telephone audio.
// It knows nothing of SIP: the root package turns negotiated SDP into
// plain values (codec, addresses, telephone-event payload type) and hands
// them to the endpoints here. Nothing in media imports sip or the root
// package.
//
// Audio is 16-bit linear PCM, 8 kHz mono, in 20 ms frames (Frame, 160
// samples). The building blocks, each in its own file:
//
//   - g711.go: PCMU and PCMA (ITU-T G.711, RTP payload types 0 and 8 of
//     RFC 3551) by lookup tables built from github.com/zaf/g711, and direct
//     µ-law/A-law transcoding;
//   - rtp.go: RTP header parsing and writing (RFC 3550 §5.1), RTP/RTCP
//     demultiplexing on one port (RFC 5761 §4), in-place header rewriting
//     for relays;
//   - rtcp.go: reception statistics (RFC 3550 §6.4, appendix A), compound
//     SR/RR + SDES reports and a validating RTCP parser;
//   - dtmf.go: RFC 4733 telephone-events: parsing, a receiver that reports
//     each key press once, and a sender of the packet sequence of a digit;
//   - goertzel.go: in-band DTMF detection (Goertzel filters, ITU-T Q.24
//     style checks) for legs without telephone-event, and ToneShare for
//     checking audio by content;
//   - tone.go: phase-continuous tone, DTMF and cadence (ringback)
//     generators;
//   - jitter.go: the jitter buffer of decoded paths, which re-frames
//     packets of any length, conceals loss, follows DTX pauses and clock
//     drift.
//
// The endpoint of a SIP leg (its UDP sockets, reader goroutines, latching,
// relaying and wiring to sources and sinks) lives in endpoint*.go and
// wiring.go, the shared 20 ms media clock in clock.go, and RTP port
// allocation in ports.go; their own documentation describes their
// goroutines and locks.
//
// # Concurrency and allocation
//
// The types of the building blocks above (DTMFReceiver, DTMFSender,
// InbandDetector, ToneGenerator, Cadence, JitterBuffer, ReceiverStats)
// start no goroutines and are not safe for concurrent use: each belongs
// to one goroutine of one leg, or to the caller's lock. Their zero values
// are ready to use. The functions (ParseRTP, ParseRTCP, BuildReport, the
// G.711 codecs, ...) are safe for concurrent use. Package-level variables
// are only immutable tables, built at initialisation, and the Err
// sentinels. None of the per-packet or per-frame operations allocate;
// benchmarks with b.ReportAllocs check that. Time is always passed in as
// an argument, so tests drive them with fake times.
//
// # Standards
//
// RFC 3550 (RTP, RTCP), RFC 3551 (PCMU, PCMA payload types), RFC 3389
// (comfort noise: decoded as silence), RFC 4733 (telephone-events), RFC
// 5761 (RTP/RTCP multiplexing), RFC 5506 (reduced-size RTCP is accepted),
// RFC 7022 (CNAME choice), ITU-T G.711, Q.23 and Q.24 (DTMF).
package media
