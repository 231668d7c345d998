// Package mediaserver is an embeddable, programmable SIP media server.
//
// An application implements Handler (the decision callbacks of the iotcomms
// "SIP Mediaserver Service" protocol: newCall, callEvent, getIvrCommand,
// plus optional informational interfaces) and runs a Server. The server
// does the SIP signalling, moves and mixes the audio, plays prompts,
// collects DTMF and records; the application decides what happens to each
// participant: drop it, call someone, put it on an IVR, connect it to
// another participant, add it to a conference.
//
// # Model
//
// A Session is one call. It holds Participants (SIP legs and IVRs) and
// Connections between them. Sessions are born from an inbound INVITE or
// PlaceIvrCall and end when their last participant leaves, after the
// sessionCompleted callback.
//
// # Goroutines
//
// Each session has one event-loop goroutine; every state change of the
// session runs there, so its callbacks are ordered and never concurrent.
// Each Handler call runs on a goroutine owned by the session while the loop
// waits for it, at most Config.DecisionTimeout. Each SIP leg has one
// reader goroutine per RTP/RTCP socket; one media clock goroutine per
// server sends all generated audio in 20 ms batches. Nothing runs per
// packet.
//
// Lock order: Server.mu is never held while calling into a session, an
// endpoint or the Handler.
//
// # Protocols
//
// SIP (RFC 3261) over UDP and TCP with SDP offer/answer (RFC 3264, 4566),
// session timers (RFC 4028), RTP/RTCP (RFC 3550) with G.711 (RFC 3551)
// and RFC 4733 DTMF. See package sip and package media.
package mediaserver
