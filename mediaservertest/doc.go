// Package mediaservertest provides SIP test phones on loopback, the way
// net/http/httptest provides test servers: each Phone is a SIP user agent on
// 127.0.0.1 with its own SIP port (UDP and TCP) and RTP sockets. It places
// and answers calls, sends a tone or a WAV file, sends DTMF (RFC 4733, SIP
// INFO or in-band), puts calls on hold, records what it hears, and lets a
// test assert on that audio by content (Goertzel tone detection, levels,
// DTMF detection) without sleeping.
//
// Use it to test a mediaserver Handler end to end, or any SIP media server:
//
//	func TestCallIsBridged(t *testing.T) {
//		bob := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "bob", ToneHz: 1800})
//		srv, err := mediaserver.New(mediaserver.Config{
//			SIPAddr: "127.0.0.1:0",
//			Handler: mediaserver.HandlerFuncs{
//				NewCallFunc: func(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
//					return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: bob.URI()}, nil
//				},
//			},
//		})
//		if err != nil {
//			t.Fatal(err)
//		}
//		go srv.Serve(t.Context())
//		t.Cleanup(func() { srv.Close() })
//		<-srv.Ready()
//
//		alice := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "alice", ToneHz: 600})
//		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
//		defer cancel()
//		a, err := alice.Dial(ctx, "sip:ivr@"+srv.SIPAddr().String(), mediaservertest.DialOptions{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		b, err := bob.Incoming(ctx)
//		if err != nil {
//			t.Fatal(err)
//		}
//		if err := a.WaitHeard(ctx, 1800, 0.5); err != nil { // alice hears bob
//			t.Error(err)
//		}
//		if err := b.WaitHeard(ctx, 600, 0.5); err != nil { // bob hears alice
//			t.Error(err)
//		}
//		if s := a.Heard().Last(time.Second).Share(600); s > 0.05 { // but not herself
//			t.Errorf("alice hears her own tone: share %.2f", s)
//		}
//		if err := a.SendDigits(ctx, "42#", mediaservertest.DTMFRFC4733); err != nil {
//			t.Fatal(err)
//		}
//		if got, err := b.WaitDigits(ctx, 3, mediaservertest.DTMFRFC4733); got != "42#" {
//			t.Errorf("bob got digits %q, %v", got, err)
//		}
//	}
//
// The package does not import any package of this module: it is built on
// emiago/sipgo, pion/sdp, pion/rtp, pion/srtp and zaf/g711 directly, so that
// tests of the server do not share the server's bugs. It implements the parts
// of RFC 3261 (SIP, over UDP, TCP and TLS), RFC 3264 and RFC 4566
// (offer/answer, SDP), RFC 3550 (RTP), RFC 3551 (PCMU, PCMA), RFC 4733
// (telephone-event), RFC 3711 (SRTP) and RFC 4568 (SDES keys) that a phone
// needs.
//
// # TLS and SRTP
//
// With PhoneConfig.TLS a phone also listens for SIP over TLS, on a port of
// its own (TLSURI, TLSAddr), and dials sips: and ;transport=tls targets:
//
//	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
//	bob := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "bob", TLS: cfg, SRTP: true})
//	call, err := alice.Dial(ctx, "sips:ivr@"+srv.SIPTLSAddr().String(), mediaservertest.DialOptions{})
//
// With PhoneConfig.SRTP every call of the phone is SRTP with SDES keys
// (AES_CM_128_HMAC_SHA1_80 offered, _32 accepted): a fresh key per call,
// RTP/SAVP offers and answers, every packet sent encrypted and every packet
// received authenticated and decrypted, RFC 4733 events included. A plain
// RTP/AVP offer to an SRTP phone, and an RTP/SAVP offer to a plain one, get
// 488 (ErrSRTPMismatch). Call.SRTP and Call.Transport say what a call
// negotiated, and Stats.SRTPAuthFailures counts the packets refused. The
// phone sends keys over any transport, so that a test can check that a
// server refuses keys in clear; real calls use TLS.
//
// # Behaviour of a phone
//
// A phone answers an incoming INVITE as its PhoneConfig says: at once with
// 200 (the default), after ringing (RingFor), with early media (EarlyMedia),
// or with a failure code (AnswerCode). Incoming returns each inbound call once
// its INVITE got the final response. Dial places a call; DialAsync returns at
// once so a test can cancel while it rings. A call sends its tone from the
// answer until it ends, except while it is on hold or the remote side's SDP
// does not let it send; it records everything it receives, decoded to 8 kHz
// PCM, for its whole life (at most 120 s). Audio is recorded in order of
// arrival without gap filling: a pause in the packets is not silence in
// Heard, which is why WaitSilence looks at arrival times.
//
// Phones are symmetric (they send RTP from the port they advertise, unless
// SendFromOtherPort) but do not latch: they send to the address of the remote
// SDP. They do not send RTCP, do not retransmit 2xx responses to re-INVITEs,
// and do not authenticate.
//
// # Concurrency
//
// Phone and Call are safe for concurrent use. A phone owns its goroutines:
// two sipgo listeners (three with TLS; the TLS handshake of an inbound
// connection runs on sipgo's reader of that connection), sipgo's request
// goroutines while they run the phone's handlers, one goroutine per outbound
// call until its INVITE is answered, and per call one RTP sender (a ticker at
// the packet time) and one reader per RTP socket. Close, registered by
// NewPhone with testing.TB.Cleanup, hangs up, closes every socket and waits
// for all of them. Lock order: Call.mu, then
// media.mu, then receiver.mu; Phone.mu is never held while taking another.
//
// Outside tests (demos, tools), StartPhone starts a phone that the caller
// closes.
//
// Logs go to the test log (testing.TB.Log) unless PhoneConfig.Logger is set.
// sipgo itself logs a few warnings to slog.Default at shutdown ("TCP ref went
// negative"); they are harmless.
package mediaservertest
