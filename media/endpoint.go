package media

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Remote is the negotiated far end of an endpoint, as plain values.
type Remote struct {
	// RTP and RTCP are the addresses the remote SDP names. With rtcp-mux,
	// RTCP equals RTP.
	RTP, RTCP netip.AddrPort
	// RTCPMux is true when RTCP shares the RTP port.
	RTCPMux bool
	// Codec is the negotiated audio codec.
	Codec Codec
	// TelephoneEvent is the negotiated RFC 4733 payload type, or -1.
	TelephoneEvent int
	// Send is true when we may send (the remote is not holding us).
	Send bool
	// Receive is true when the remote should be sending to us; only then
	// does silence count toward the media timeout.
	Receive bool
	// SRTP, when not nil, protects the leg with these SDES keys
	// (decision 21); nil is plain RTP.
	SRTP *SRTP
}

// EventKind identifies a media event.
type EventKind uint8

// Media events.
const (
	// EventDTMF is a DTMF digit received in RTP (RFC 4733) or in-band.
	EventDTMF EventKind = iota + 1
	// EventMediaTimeout fires once when a leg that should send was silent for
	// the media timeout (decision 12).
	EventMediaTimeout
)

// DigitSource says how a digit arrived.
type DigitSource uint8

// Digit sources.
const (
	DigitRFC4733 DigitSource = iota + 1
	DigitInband
)

// Event is a media event of an endpoint.
type Event struct {
	Kind   EventKind
	Digit  byte
	Source DigitSource
}

// EventHandler receives an endpoint's events. MediaEvent is called on the
// endpoint's reader goroutine or on the media clock and must not block.
type EventHandler interface {
	MediaEvent(ev Event)
}

// EndpointConfig configures an Endpoint.
type EndpointConfig struct {
	// Ports allocates the endpoint's RTP/RTCP pair. Required.
	Ports *PortAllocator
	// Clock drives generated audio, decoded sinks, RTCP and the media
	// timeout. Required.
	Clock *Clock
	// Logger is the endpoint's logger. Default slog.Default().
	Logger *slog.Logger
	// Events receives digits and timeouts. Optional.
	Events EventHandler
	// StrictSource accepts RTP only from the SDP address (no latching).
	StrictSource bool
	// MediaTimeout hangs up a silent leg (decision 12); 0 disables it.
	MediaTimeout time.Duration
	// InbandDTMF detects DTMF tones in the decoded audio while no
	// telephone-event was negotiated or received (decision 14). Detection
	// runs only while the endpoint decodes (it has sinks, e.g. an IVR).
	InbandDTMF bool
}

// Stats are an endpoint's counters.
type Stats struct {
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
	// Malformed counts datagrams that are not valid RTP/RTCP or too long.
	Malformed uint64
	// Foreign counts packets from a source other than the latched one.
	Foreign uint64
	// UnknownPayload counts RTP packets of a payload type not negotiated.
	UnknownPayload uint64
	// Digits counts DTMF digits detected.
	Digits uint64
	// Flooded counts packets dropped because the leg sent faster than
	// any real phone does.
	Flooded uint64
	// Lost is the cumulative number of RTP packets lost (RFC 3550).
	Lost int64
	// Jitter is the interarrival jitter in RTP timestamp units (RFC 3550).
	Jitter uint32
	// Late counts packets too late for the jitter buffer (decoded legs).
	Late uint64
}

// Endpoint is one SIP leg's media: a pair of UDP sockets, one reader
// goroutine per socket, and the leg's outgoing RTP stream. What it sends and
// where its received audio goes is its wiring (see wiring.go).
//
// Endpoint is safe for concurrent use. Close stops its readers and waits.
type Endpoint struct {
	id    uint32
	cfg   EndpointConfig
	log   *slog.Logger
	port  int
	rtp   *net.UDPConn
	rtcp  *net.UDPConn
	clock *Clock

	remote atomic.Pointer[remoteState]
	// wiring is replaced under clock.wiringMu; hot paths load it.
	wiring atomic.Pointer[wiring]

	rtpLatch  latch  // owned by the RTP reader
	flood     bucket // owned by the RTP reader
	rtcpLatch latch  // owned by the RTCP reader

	out    outStream   // our outgoing RTP stream
	inband inbandState // a relayed digit played as tones

	lastRecv atomic.Int64 // unix nanos of the last valid packet
	timedOut atomic.Bool
	sawEvent atomic.Bool  // an RFC 4733 packet arrived (decision 14)
	dtmf     DTMFReceiver // owned by the RTP reader
	// decodeBuf is owned by the RTP reader, allocated when the leg is
	// first decoded: legs that are only relayed or only hear prompts (most
	// of them) never need it nor the jitter buffer, ~16 KB together.
	decodeBuf *[MaxPacketSize]int16

	rxMu   sync.Mutex    // guards jitter, rstats
	jitter *JitterBuffer // nil until the leg is first decoded
	rstats ReceiverStats

	tick tickState // owned by the clock

	stats struct {
		packetsIn, packetsOut, bytesIn, bytesOut atomic.Uint64
		malformed, foreign, unknownPT, digits    atomic.Uint64
		flooded                                  atomic.Uint64
	}

	closeOnce sync.Once
	wg        sync.WaitGroup
}

// remoteState is an immutable snapshot of the negotiated remote; a new one
// is stored on every offer/answer, which also restarts latching.
type remoteState struct {
	Remote
	gen      uint64
	since    int64                          // unix nanos when negotiated
	crypto   *srtpState                     // nil: plain RTP
	sendRTP  atomic.Pointer[netip.AddrPort] // where we send RTP (latched or SDP)
	sendRTCP atomic.Pointer[netip.AddrPort] // where we send RTCP
}

var endpointIDs atomic.Uint32

// NewEndpoint binds an RTP/RTCP pair, starts its readers and registers it
// with the clock. Until SetRemote is called it drops everything it receives
// and sends nothing.
func NewEndpoint(cfg EndpointConfig) (*Endpoint, error) {
	if cfg.Ports == nil || cfg.Clock == nil {
		return nil, errors.New("media: endpoint needs Ports and Clock")
	}
	rtp, rtcp, port, err := cfg.Ports.allocate()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	e := &Endpoint{
		id:    endpointIDs.Add(1),
		cfg:   cfg,
		log:   log,
		port:  port,
		rtp:   rtp,
		rtcp:  rtcp,
		clock: cfg.Clock,
	}
	e.out.init()
	e.wiring.Store(&wiring{})
	e.lastRecv.Store(time.Now().UnixNano())
	e.wg.Add(2)
	go e.readLoop(e.rtp, false)
	go e.readLoop(e.rtcp, true)
	e.clock.add(e)
	return e, nil
}

// Port returns the local RTP port (RTCP is Port+1).
func (e *Endpoint) Port() int { return e.port }

// LocalAddr returns the bound RTP address.
func (e *Endpoint) LocalAddr() netip.AddrPort {
	return e.rtp.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SetRemote applies a new offer/answer result. It restarts source latching
// (decision 4) and the media-timeout window. It fails only for unusable
// SRTP keys; the endpoint then keeps its previous remote.
func (e *Endpoint) SetRemote(r Remote) error {
	now := time.Now().UnixNano()
	prev := e.remote.Load()
	st := &remoteState{Remote: r, since: now}
	if prev != nil {
		st.gen = prev.gen + 1
	}
	if r.SRTP != nil {
		var prevCrypto *srtpState
		var prevKeys *SRTP
		if prev != nil {
			prevCrypto, prevKeys = prev.crypto, prev.SRTP
		}
		c, err := newSRTPState(r.SRTP, prevCrypto, prevKeys)
		if err != nil {
			return err
		}
		st.crypto = c
	}
	rtpAddr := r.RTP
	st.sendRTP.Store(&rtpAddr)
	rtcp := r.RTCP
	if r.RTCPMux || !rtcp.IsValid() {
		rtcp = r.RTP
		if !r.RTCPMux && r.RTP.IsValid() {
			rtcp = netip.AddrPortFrom(r.RTP.Addr(), r.RTP.Port()+1)
		}
	}
	st.sendRTCP.Store(&rtcp)
	e.remote.Store(st)
	e.lastRecv.Store(now)
	e.timedOut.Store(false)
	return nil
}

// Remote returns the current negotiated remote and whether one is set.
func (e *Endpoint) Remote() (Remote, bool) {
	st := e.remote.Load()
	if st == nil {
		return Remote{}, false
	}
	return st.Remote, true
}

// Stats returns a snapshot of the endpoint's counters.
func (e *Endpoint) Stats() Stats {
	s := Stats{
		PacketsIn:      e.stats.packetsIn.Load(),
		PacketsOut:     e.stats.packetsOut.Load(),
		BytesIn:        e.stats.bytesIn.Load(),
		BytesOut:       e.stats.bytesOut.Load(),
		Malformed:      e.stats.malformed.Load(),
		Foreign:        e.stats.foreign.Load(),
		UnknownPayload: e.stats.unknownPT.Load(),
		Digits:         e.stats.digits.Load(),
		Flooded:        e.stats.flooded.Load(),
	}
	e.rxMu.Lock()
	s.Lost = e.rstats.Lost()
	s.Jitter = e.rstats.Jitter()
	if e.jitter != nil {
		s.Late = e.jitter.Stats().Late
	}
	e.rxMu.Unlock()
	return s
}

// Close unregisters the endpoint, closes its sockets, waits for its readers
// and releases its ports. It is idempotent.
func (e *Endpoint) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.clock.remove(e)
		e.detachAll()
		err = errors.Join(e.rtp.Close(), e.rtcp.Close())
		e.wg.Wait()
		e.cfg.Ports.release(e.port)
	})
	return err
}

func (e *Endpoint) emit(ev Event) {
	if h := e.cfg.Events; h != nil {
		h.MediaEvent(ev)
	}
}

// readLoop is the one reader goroutine of a socket. It exits when the
// socket is closed.
func (e *Endpoint) readLoop(c *net.UDPConn, isRTCP bool) {
	defer e.wg.Done()
	buf := make([]byte, MaxPacketSize+1+SRTPTailroom)
	for {
		n, src, err := c.ReadFromUDPAddrPort(buf[:MaxPacketSize+1])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n > MaxPacketSize || n < 4 {
			e.stats.malformed.Add(1)
			continue
		}
		now := time.Now()
		pkt := buf[:n]
		rtcp := isRTCP || IsRTCP(pkt)
		if st := e.remote.Load(); st != nil && st.crypto != nil {
			var err error
			if rtcp {
				pkt, err = st.crypto.unprotectRTCP(pkt)
			} else {
				pkt, err = st.crypto.unprotect(pkt)
			}
			if err != nil {
				e.stats.malformed.Add(1) // forged, replayed or plain
				continue
			}
		}
		if rtcp {
			e.receiveRTCP(pkt, src, now, isRTCP)
			continue
		}
		e.receiveRTP(pkt, src, now)
	}
}
