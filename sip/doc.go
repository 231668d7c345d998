// Package sip is the signalling half of the media server: a SIP user agent
// on UDP, TCP and TLS, built on the transport and transaction layers of
// github.com/emiago/sipgo, with its own dialog management and SDP
// offer/answer on github.com/pion/sdp/v3. It knows nothing of sessions, IVRs
// or RTP: it hands the root package the negotiated media as plain values
// (Media, LocalMedia) and reports each call's events to a DialogHandler.
//
// # Use
//
// Create an Agent with NewAgent(Config), run Serve(ctx), wait for Ready.
// Inbound calls arrive at Config.OnInvite as an *InboundCall, which the
// application answers (Negotiate, Progress, Answer), rejects (Reject) or ends
// (Hangup). Agent.Invite places an *OutboundCall. Close ends everything.
//
// # What it implements
//
//   - RFC 3261: UAS and UAC dialogs; request validation (§8.2: 505, 400, 501,
//     405, 416, 420, 415); 100 Trying at once; 2xx retransmission until the
//     ACK and BYE after 64*T1 without it (§13.3.1.4); CANCEL answered 200, then
//     487 to the INVITE, its ACK absorbed (§9.2); CSeq ordering (§12.2.2);
//     re-INVITE glare 491 (§14.2); BYE after the ACK (§15); digest
//     authentication with 401/407 (§22) for INVITE, BYE, re-INVITE and UPDATE,
//     stale=true included; one 3xx redirect; forked 2xx ACKed and BYEd;
//     requests over 1300 bytes moved to TCP (§18.1.1).
//   - RFC 3264 and RFC 4566: offers and answers (one audio stream, PCMU/PCMA,
//     telephone-event; unsupported streams at port 0; hold by direction or
//     c=0.0.0.0; rtcp-mux and a=rtcp), with input normalised before parsing.
//   - RFC 3311 UPDATE, RFC 4028 session timers (refresh and expiry), RFC 3581
//     rport (always applied to UDP requests), INFO DTMF
//     (application/dtmf-relay, application/dtmf; RFC 4733 events themselves
//     are the media plane's).
//   - RFC 4475: every torture message gets an answer or, when it cannot be
//     framed at all, is dropped; see the tests. RFC 2543 requests without a
//     branch and From tag are matched through a derived branch.
//   - SIP over TLS (RFC 3261 §26, sips: URIs and ;transport=tls) when
//     Config.TLS is set: a TLS listener on Config.TLSAddr, outbound TLS to
//     sips: and ;transport=tls targets and "tls" trunks; a call that came
//     over TLS keeps TLS for its in-dialog requests, with Contact and Via on
//     the TLS port.
//   - RFC 4568 SDES-SRTP (Config.SRTP): RTP/SAVP offers answered with a
//     fresh key of ours (AES_CM_128_HMAC_SHA1_80 or _32), keys reported in
//     Media.SRTP; keys only ever travel over TLS, and an RTP/SAVP stream on
//     a UDP or TCP call is answered at port 0 (488 when it is the only one).
//     No MKI, no session parameters, no DTLS-SRTP.
//   - Digest authentication of inbound INVITEs (Config.InboundAuth; RFC
//     2617, RFC 7616, RFC 8760): MD5 challenges by default, SHA-256 on
//     request, qop=auth, stateless nonces bound to the source address,
//     stale=true, replayed nonce counts refused, a lockout of password
//     guessers, and refusals sent as a stateless UAS.
//
// # Admission (decision 20)
//
// An out-of-dialog request passes, in order: the source allow-list
// (Config.AllowedSources: a silent drop, before sipgo parses or creates a
// transaction), draining (503), the per-source INVITE rate limit (503),
// digest authentication of INVITEs (401, 403), then validation and the
// call. Other out-of-dialog requests (OPTIONS, REGISTER, garbage) take a
// token of the per-source request rate limit after the allow-list, and
// are dropped unanswered without one (Config.RequestRateLimit).
// Config.TrustedProxies skip the rate limits and authentication.
// Every 503 the agent sends carries Retry-After (Config.RetryAfter).
// Agent.Stats counts the refusals by reason; the rate limiter's table is
// bounded by RateLimit.MaxSources.
//
// # Goroutines
//
// The Agent owns: one goroutine per listener (UDP read loop, TCP and TLS
// accept loops; sipgo adds one reader per TCP or TLS connection, which
// also runs the TLS handshake, bounded to 10 s); one per outbound INVITE
// until its final response; one per 2xx we send until its ACK; one per
// background transaction (BYE, CANCEL, session refresh, BYE to a fork); and
// the callbacks of its timers. Close waits for all of them. sipgo runs each
// received message on a goroutine of its own, which calls into the Agent;
// those end with the message.
//
// DialogHandler methods of one call run one at a time, in order, on whichever
// of these goroutines produced the event (there is no goroutine per call);
// they must not block. No lock is held while they run, so they may call the
// call's methods. A panic in a handler is recovered and logged.
//
// # Timers
//
// T1 is 500 ms and T2 4 s. The TU timers (2xx retransmission, ACK wait,
// session timers, no-answer, CANCEL give-up) run on an injectable clock;
// sipgo's transaction timers (Timer A-M) run on the wall clock.
//
// # sipgo globals
//
// The package raises sipgo's sip.UDPMTUSize once at program start so that
// responses to long UDP requests can be sent (see init in message.go); it
// sets no other sipgo global. sipgo's connection objects log a few Debug
// lines (and, on sipgo's own reference-count slips, a Warn) through
// slog.Default, which only sip.SetDefaultLogger, a process-wide setting,
// could redirect; we leave it alone. Everything else sipgo logs goes through
// Config.Logger, with peer input demoted to Debug and raw messages dropped.
//
// # Logging
//
// Keys: callId, method, status, remoteAddr, err. Info for serving, call
// start, answer and end; Debug for messages and refused requests (counted
// in Stats instead: a flood must not flood the log); never whole messages
// at Warn or Error, and SRTP keys and passwords never.
//
// # Locks
//
// call.mu before serializer.mu or Agent.mu (leaves). The rate limiter's and
// the digest server's mutexes are leaves too, taken with no other lock
// held.
package sip
