package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
)

// PortAllocator hands out RTP/RTCP port pairs from a configured range: an
// even port for RTP and the next odd port for RTCP, so RTCP = RTP+1 holds for
// peers that assume it (RFC 3550 §11) without ever colliding with another
// pair of ours. It is instance-scoped: every Server owns one.
//
// A PortAllocator is safe for concurrent use.
type PortAllocator struct {
	ip       netip.Addr
	min, max int // even min, inclusive max

	mu   sync.Mutex // guards next, used
	next int
	used map[int]struct{}
}

// NewPortAllocator returns an allocator binding on ip within [min, max].
// min is rounded up to even; the range must hold at least one pair.
func NewPortAllocator(ip netip.Addr, min, max int) (*PortAllocator, error) {
	if min%2 == 1 {
		min++
	}
	if min < 1024 || max > 65535 || max < min+1 {
		return nil, fmt.Errorf("media: port range %d-%d: %w", min, max, ErrPortRange)
	}
	pairs := (max - min + 1) / 2
	return &PortAllocator{
		ip:   ip,
		min:  min,
		max:  max,
		next: min + 2*rand.IntN(pairs), // spread restarts and parallel test processes
		used: make(map[int]struct{}),
	}, nil
}

// InUse returns the number of pairs currently allocated.
func (a *PortAllocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used)
}

// allocate binds a free pair and returns its sockets. Ports that another
// process holds are skipped.
func (a *PortAllocator) allocate() (rtp, rtcp *net.UDPConn, port int, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pairs := (a.max - a.min + 1) / 2
	for range pairs {
		p := a.next
		a.next += 2
		if a.next+1 > a.max {
			a.next = a.min
		}
		if _, busy := a.used[p]; busy {
			continue
		}
		rtp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.ip, uint16(p))))
		if err != nil {
			continue
		}
		rtcp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.ip, uint16(p+1))))
		if err != nil {
			_ = rtp.Close()
			continue
		}
		a.used[p] = struct{}{}
		return rtp, rtcp, p, nil
	}
	return nil, nil, 0, fmt.Errorf("media: %d pairs in %d-%d: %w", pairs, a.min, a.max, ErrNoPorts)
}

func (a *PortAllocator) release(port int) {
	a.mu.Lock()
	delete(a.used, port)
	a.mu.Unlock()
}

// Sentinel errors of port allocation.
var (
	ErrPortRange = errors.New("media: invalid port range")
	ErrNoPorts   = errors.New("media: no free rtp port")
)
