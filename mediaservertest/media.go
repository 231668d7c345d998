package mediaservertest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/zaf/g711"
)

// maxDatagram is the largest RTP datagram accepted; read buffers have one byte
// more so that a longer one is detected and counted as malformed.
const maxDatagram = 1500

// media is one call's RTP endpoint: its sockets, one reader goroutine per
// socket and one sender goroutine paced by a ticker at the packet time.
//
// Lock order: media.mu, then receiver.mu.
type media struct {
	log   *slog.Logger
	ptime time.Duration
	frame int // samples per packet
	ssrc  uint32
	rx    receiver
	// secure is PhoneConfig.SRTP: nothing is sent before the SRTP keys are
	// known, and everything sent is protected.
	secure bool
	sent   atomic.Uint64

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu       sync.Mutex // guards the fields below
	recvConn *net.UDPConn
	sendConn *net.UDPConn          // the same as recvConn unless SendFromOtherPort
	conns    map[*net.UDPConn]bool // every open socket, each with a reader
	remote   netip.AddrPort
	codec    Codec
	sendPT   uint8
	tePT     int  // payload type for sending telephone-event, -1 for none
	canSend  bool // the call is up, not on hold, and the remote accepts media
	closed   bool
	gen      generator
	seq      uint16
	ts       uint32
	talking  bool          // the last tick sent a packet; the next one after a pause gets the marker
	tx       *srtp.Context // protects what is sent; nil before the keys or without SRTP
	txKey    []byte        // tx's key and suite
	txSuite  string
	txHdr    rtp.Header // scratch of tx.EncryptRTP
}

// newMedia opens the call's RTP socket(s) on 127.0.0.1 and starts its
// goroutines. Nothing is sent until configure and setSending allow it.
func newMedia(cfg *PhoneConfig, wav []int16, log *slog.Logger) (*media, error) {
	var seed [10]byte
	_, _ = rand.Read(seed[:])
	m := &media{
		log:    log,
		ptime:  cfg.Ptime,
		frame:  int(cfg.Ptime * SampleRate / time.Second),
		ssrc:   binary.BigEndian.Uint32(seed[0:4]),
		seq:    binary.BigEndian.Uint16(seed[4:6]),
		ts:     binary.BigEndian.Uint32(seed[6:10]),
		done:   make(chan struct{}),
		tePT:   -1,
		gen:    generator{toneHz: cfg.ToneHz, wav: wav, useWAV: len(wav) > 0},
		conns:  map[*net.UDPConn]bool{},
		secure: cfg.SRTP,
	}
	m.rx.tePTs = [2]int{-1, -1}
	m.rx.secure = cfg.SRTP
	conn, err := listenRTP("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m.recvConn, m.sendConn = conn, conn
	if cfg.SendFromOtherPort {
		if m.sendConn, err = listenRTP("127.0.0.1:0"); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	m.startReader(m.recvConn, false)
	if m.sendConn != m.recvConn {
		m.startReader(m.sendConn, true)
	}
	m.wg.Add(1)
	go m.send()
	return m, nil
}

// listenRTP opens a UDP socket for RTP.
func listenRTP(addr string) (*net.UDPConn, error) {
	a, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("mediaservertest: rtp address %q: %w", addr, err)
	}
	c, err := net.ListenUDP("udp4", a)
	if err != nil {
		return nil, fmt.Errorf("mediaservertest: listen rtp: %w", err)
	}
	return c, nil
}

// startReader registers c and starts its reader; call it before m is shared
// or with m.mu held.
func (m *media) startReader(c *net.UDPConn, sendSocket bool) {
	m.conns[c] = true
	m.wg.Add(1)
	go m.read(c, sendSocket)
}

// localAddr returns the advertised RTP address.
func (m *media) localAddr() netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	return addrPort(m.recvConn)
}

func addrPort(c *net.UDPConn) netip.AddrPort {
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// configure applies a negotiated stream: where and how to send, which
// payload types are telephone-event when received (ours and the remote's),
// and the SRTP keys (nil for plain RTP). An SRTP context whose key did not
// change is kept, with its rollover counter and replay window. On error
// nothing changes.
func (m *media) configure(remote netip.AddrPort, codec Codec, sendPT uint8, tePT int, rxTE [2]int, keys *srtpKeys) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var tx, rx *srtp.Context
	if keys != nil {
		var err error
		if m.tx == nil || m.txSuite != keys.suite || !bytes.Equal(m.txKey, keys.local) {
			if tx, err = newSRTPContext(keys.local, keys.suite, false); err != nil {
				return err
			}
		}
		if m.rx.needsSRTP(keys) {
			if rx, err = newSRTPContext(keys.remote, keys.suite, true); err != nil {
				return err
			}
		}
	}
	m.remote, m.codec, m.sendPT, m.tePT = remote, codec, sendPT, tePT
	if tx != nil {
		m.tx, m.txKey, m.txSuite = tx, keys.local, keys.suite
	}
	m.rx.setTelephoneEvent(rxTE)
	if rx != nil {
		m.rx.setSRTP(rx, keys)
	}
	return nil
}

// setSending allows or stops sending.
func (m *media) setSending(on bool) {
	m.mu.Lock()
	m.canSend = on
	m.mu.Unlock()
}

// setTone changes what is sent to a tone of hz (0: silence).
func (m *media) setTone(hz float64) {
	m.mu.Lock()
	m.gen.setTone(hz)
	m.mu.Unlock()
}

// queueDigits queues digits for sending and returns their items.
func (m *media) queueDigits(digits string, mode DTMFMode) ([]*dtmfItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrCallEnded
	}
	if !m.canSend {
		return nil, ErrNotSending
	}
	if mode == DTMFRFC4733 && m.tePT < 0 {
		return nil, ErrNoTelephoneEvent
	}
	items := make([]*dtmfItem, len(digits))
	for i := range len(digits) {
		items[i] = &dtmfItem{digit: digits[i], mode: mode, done: make(chan struct{})}
	}
	m.gen.queue = append(m.gen.queue, items...)
	return items, nil
}

// unqueue drops those of items that have not started yet.
func (m *media) unqueue(items []*dtmfItem) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen.drop(items)
}

// send is the sender goroutine: one packet per tick while sending is allowed.
func (m *media) send() {
	defer m.wg.Done()
	t := time.NewTicker(m.ptime)
	defer t.Stop()
	buf := make([]byte, maxDatagram)
	pcm := make([]int16, m.frame)
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		n, conn, to := m.step(buf, pcm)
		if n == 0 {
			continue
		}
		if _, err := conn.WriteToUDPAddrPort(buf[:n], to); err != nil {
			continue // closed by a move or by close, or the remote port is gone
		}
		m.sent.Add(1)
	}
}

// step builds the packet of one tick into buf and returns its length (0 for
// none), the socket to send it from and its destination.
func (m *media) step(buf []byte, pcm []int16) (int, *net.UDPConn, netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := m.ts
	m.ts += uint32(m.frame)
	if !m.canSend || m.closed || !m.remote.IsValid() || m.remote.Port() == 0 || m.remote.Addr().IsUnspecified() ||
		(m.secure && m.tx == nil) {
		m.talking = false
		return 0, nil, netip.AddrPort{}
	}
	h := rtp.Header{Version: 2, SequenceNumber: m.seq, Timestamp: ts, SSRC: m.ssrc, Marker: !m.talking}
	m.talking = true
	m.seq++
	var payload int
	if ev, evTS, first, ok := m.gen.event(ts, m.frame); ok && m.tePT >= 0 {
		h.PayloadType, h.Timestamp, h.Marker = uint8(m.tePT), evTS, first
		hn, _ := h.MarshalTo(buf)
		payload = ev.marshalTo(buf[hn:])
		return m.protectLocked(buf, hn+payload), m.sendConn, m.remote
	}
	m.gen.fill(pcm)
	h.PayloadType = m.sendPT
	hn, _ := h.MarshalTo(buf)
	for i, s := range pcm {
		if m.codec == PCMA {
			buf[hn+i] = g711.EncodeAlawFrame(s)
		} else {
			buf[hn+i] = g711.EncodeUlawFrame(s)
		}
	}
	return m.protectLocked(buf, hn+len(pcm)), m.sendConn, m.remote
}

// protectLocked encrypts the RTP packet buf[:n] in place with SRTP, adding
// its authentication tag, and returns its new length; without SRTP it
// returns n. buf has room for the tag.
func (m *media) protectLocked(buf []byte, n int) int {
	if m.tx == nil {
		return n
	}
	out, err := m.tx.EncryptRTP(buf[:0], buf[:n], &m.txHdr)
	if err != nil {
		return 0
	}
	return copy(buf, out) // out is buf unless buf had no room: then a copy
}

// read is the reader goroutine of one socket. It exits when the socket closes.
func (m *media) read(c *net.UDPConn, sendSocket bool) {
	defer m.wg.Done()
	buf := make([]byte, maxDatagram+1)
	var pkt rtp.Packet
	for {
		n, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-m.done:
				return
			default:
				continue
			}
		}
		m.rx.handle(&pkt, buf[:n], src, sendSocket)
	}
}

// moveTo opens a socket on addr ("host:port") to become the advertised one.
// commit switches to it and closes the old one; abort closes the new one.
func (m *media) moveTo(addr string) (local netip.AddrPort, commit, abort func(), err error) {
	conn, err := listenRTP(addr)
	if err != nil {
		return netip.AddrPort{}, nil, nil, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		_ = conn.Close()
		return netip.AddrPort{}, nil, nil, ErrCallEnded
	}
	m.startReader(conn, false)
	m.mu.Unlock()
	commit = func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		old := m.recvConn
		if m.sendConn == old {
			m.sendConn = conn
		}
		m.recvConn = conn
		if m.conns[old] {
			delete(m.conns, old)
			_ = old.Close()
		}
	}
	abort = func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.conns[conn] {
			delete(m.conns, conn)
			_ = conn.Close()
		}
	}
	return addrPort(conn), commit, abort, nil
}

// close stops sending, closes the sockets and waits for the goroutines.
func (m *media) close() {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.gen.abort(ErrCallEnded)
		close(m.done)
		for c := range m.conns {
			_ = c.Close()
		}
		clear(m.conns)
		m.mu.Unlock()
		m.wg.Wait()
	})
}

// stats returns a snapshot of the counters.
func (m *media) stats() Stats {
	m.mu.Lock()
	s := Stats{
		PacketsSent: m.sent.Load(),
		LocalRTP:    addrPort(m.recvConn),
		SendRTP:     addrPort(m.sendConn),
		RemoteRTP:   m.remote,
	}
	m.mu.Unlock()
	m.rx.fill(&s)
	return s
}
