package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// rtpStats summarises RTP streams seen in a capture: inter-arrival of the
// audio packets of each stream and loss from sequence-number gaps.
type rtpStats struct {
	Streams      int     `json:"streams"`
	Packets      int64   `json:"packets"`
	Events       int64   `json:"eventPackets"` // telephone-event and other non-audio PTs
	Expected     int64   `json:"expected"`
	Lost         int64   `json:"lost"`
	LossPct      float64 `json:"lossPct"`
	StreamsLossy int     `json:"streamsWithLoss"`
	WorstLossPct float64 `json:"worstStreamLossPct"`
	P50MS        float64 `json:"p50Ms"`
	P99MS        float64 `json:"p99Ms"`
	P999MS       float64 `json:"p999Ms"`
	MaxMS        float64 `json:"maxMs"`
	WorstP99MS   float64 `json:"worstStreamP99Ms"`
	Over40MS     int64   `json:"gapsOver40Ms"` // inter-arrivals above two packet times
	MeanPktPerS  float64 `json:"meanPacketsPerStreamPerS"`
	ShortStreams int     `json:"shortStreams"` // fewer than 25 packets
	// TSSkipped counts 20 ms frames missing from the RTP timestamps of
	// consecutive audio packets (a jump of more than 160 samples): audio
	// that was never sent although the sequence numbers run on.
	TSSkipped    int64   `json:"tsSkippedFrames"`
	TSSkippedPct float64 `json:"tsSkippedPct"`
	// Gaps100 counts inter-arrivals above 100 ms; GapsAtStart those in the
	// first 3 s of their stream; GapsTogether the most gaps that ended in
	// the same 100 ms (many streams at once: the whole sender stalled).
	Gaps100      int64 `json:"gapsOver100Ms"`
	GapsAtStart  int64 `json:"gapsOver100MsAtStart"`
	GapsTogether int64 `json:"gapsOver100MsTogether"`
	CaptureDrops int64 `json:"captureDrops"`
}

const (
	histBin  = 0.1   // ms
	histBins = 20000 // 2 s; longer gaps go to the last bin (max is exact)
)

type hist struct {
	n    int64
	bins []int64
	max  float64
}

func newHist() *hist { return &hist{bins: make([]int64, histBins+1)} }

func (h *hist) add(ms float64) {
	i := int(ms / histBin)
	if i > histBins {
		i = histBins
	}
	if i < 0 {
		i = 0
	}
	h.bins[i]++
	h.n++
	if ms > h.max {
		h.max = ms
	}
}

// quantile returns the upper edge of the bin holding quantile q.
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(h.n)))
	var c int64
	for i, v := range h.bins {
		c += v
		if c >= want {
			return math.Min(float64(i+1)*histBin, h.max)
		}
	}
	return h.max
}

type streamKey struct {
	src, dst uint16
	ssrc     uint32
}

type stream struct {
	first, last float64 // seconds
	lastAudio   float64
	lastTS      uint32
	skipped     int64
	n           int64 // audio packets
	all         int64 // all packets, for loss
	baseSeq     uint32
	maxExt      uint32
	cycles      uint32
	lastSeq     uint16
	started     bool
	h           *hist
}

// analysePcap reads a classic pcap of Ethernet (Linux lo) frames and
// returns statistics per direction: packets whose UDP source port is in
// [srcLo, srcHi] count as "out" (server to SIPp), the others as "in".
func analysePcap(path string, srcLo, srcHi int) (out, in rtpStats, err error) {
	f, err := os.Open(path)
	if err != nil {
		return out, in, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var gh [24]byte
	if _, err := io.ReadFull(r, gh[:]); err != nil {
		return out, in, fmt.Errorf("pcap header: %w", err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	nano := false
	switch binary.LittleEndian.Uint32(gh[:4]) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		nano = true
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	case 0x4d3cb2a1:
		bo, nano = binary.BigEndian, true
	default:
		return out, in, errors.New("not a classic pcap file (use dumpcap -P)")
	}
	link := bo.Uint32(gh[20:24])
	var l2 int
	switch link {
	case 1: // Ethernet, what Linux lo gives
		l2 = 14
	case 113: // Linux cooked
		l2 = 16
	case 276:
		l2 = 20
	default:
		return out, in, fmt.Errorf("pcap link type %d not supported", link)
	}
	streams := [2]map[streamKey]*stream{{}, {}}
	var rec [16]byte
	buf := make([]byte, 65536)
	events := [2]int64{}
	var gaps [2][]longGap
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return out, in, err
		}
		sec, frac := bo.Uint32(rec[0:4]), bo.Uint32(rec[4:8])
		incl := bo.Uint32(rec[8:12])
		if incl > uint32(len(buf)) {
			return out, in, fmt.Errorf("pcap record of %d bytes", incl)
		}
		if _, err := io.ReadFull(r, buf[:incl]); err != nil {
			break // truncated last record
		}
		t := float64(sec)
		if nano {
			t += float64(frac) / 1e9
		} else {
			t += float64(frac) / 1e6
		}
		p := buf[:incl]
		if len(p) < l2+20 {
			continue
		}
		ip := p[l2:]
		if ip[0]>>4 != 4 || ip[9] != 17 {
			continue
		}
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) < ihl+8+12 {
			continue
		}
		udp := ip[ihl:]
		src, dst := binary.BigEndian.Uint16(udp[0:2]), binary.BigEndian.Uint16(udp[2:4])
		rtp := udp[8:]
		if rtp[0]>>6 != 2 {
			continue
		}
		pt := rtp[1] & 0x7f
		if pt >= 72 && pt <= 76 { // RTCP
			continue
		}
		seq := binary.BigEndian.Uint16(rtp[2:4])
		ssrc := binary.BigEndian.Uint32(rtp[8:12])
		dir := 1
		if int(src) >= srcLo && int(src) <= srcHi {
			dir = 0
		}
		k := streamKey{src, dst, ssrc}
		s := streams[dir][k]
		if s == nil {
			s = &stream{first: t, h: newHist()}
			streams[dir][k] = s
		}
		s.last = t
		s.all++
		s.seq(seq)
		if pt != 0 && pt != 8 {
			events[dir]++
			continue
		}
		ts := binary.BigEndian.Uint32(rtp[4:8])
		if s.lastAudio > 0 {
			gap := (t - s.lastAudio) * 1000
			s.h.add(gap)
			if gap > 100 {
				gaps[dir] = append(gaps[dir], longGap{end: t, offset: s.lastAudio - s.first})
			}
			if d := ts - s.lastTS; d > 160 && d < 8000*60 {
				s.skipped += int64((d+80)/160) - 1
			}
		}
		s.lastTS = ts
		s.lastAudio = t
		s.n++
	}
	out = summarise(streams[0], events[0], gaps[0])
	in = summarise(streams[1], events[1], gaps[1])
	return out, in, nil
}

// seq tracks the extended sequence number (RFC 3550 A.1, simplified).
func (s *stream) seq(q uint16) {
	if !s.started {
		s.started = true
		s.baseSeq, s.maxExt, s.lastSeq = uint32(q), uint32(q), q
		return
	}
	d := q - s.lastSeq
	if d != 0 && d < 0x8000 { // forward
		if q < s.lastSeq {
			s.cycles += 1 << 16
		}
		s.lastSeq = q
		s.maxExt = s.cycles | uint32(q)
	}
}

// longGap is an inter-arrival above 100 ms: when it ended, and how far
// into its stream it began (seconds).
type longGap struct{ end, offset float64 }

func summarise(m map[streamKey]*stream, events int64, gaps []longGap) rtpStats {
	var st rtpStats
	st.Events = events
	together := map[int64]int64{}
	for _, g := range gaps {
		st.Gaps100++
		if g.offset < 3 {
			st.GapsAtStart++
		}
		b := int64(g.end * 10)
		together[b]++
		st.GapsTogether = max(st.GapsTogether, together[b])
	}
	all := newHist()
	var p99s []float64
	var pkts, secs float64
	for _, s := range m {
		if s.n == 0 {
			continue // events only
		}
		st.Streams++
		for i, v := range s.h.bins {
			all.bins[i] += v
		}
		all.n += s.h.n
		if s.h.max > all.max {
			all.max = s.h.max
		}
		for i := int(40 / histBin); i < len(s.h.bins); i++ {
			st.Over40MS += s.h.bins[i]
		}
		p99s = append(p99s, s.h.quantile(0.99))
		st.Packets += s.n
		st.TSSkipped += s.skipped
		// All packets of the stream (audio and events) share the
		// sequence space.
		exp := int64(s.maxExt - s.baseSeq + 1)
		got := s.all
		if exp < got {
			exp = got
		}
		st.Expected += exp
		if exp > got {
			lost := exp - got
			st.Lost += lost
			st.StreamsLossy++
			st.WorstLossPct = math.Max(st.WorstLossPct, 100*float64(lost)/float64(exp))
		}
		if s.n < 25 {
			st.ShortStreams++
		}
		if d := s.last - s.first; d > 1 {
			pkts += float64(s.n)
			secs += d
		}
	}
	if secs > 0 {
		st.MeanPktPerS = pkts / secs
	}
	if st.Packets > 0 {
		st.TSSkippedPct = 100 * float64(st.TSSkipped) / float64(st.Packets+st.TSSkipped)
	}
	if st.Expected > 0 {
		st.LossPct = 100 * float64(st.Lost) / float64(st.Expected)
	}
	st.P50MS = all.quantile(0.50)
	st.P99MS = all.quantile(0.99)
	st.P999MS = all.quantile(0.999)
	st.MaxMS = all.max
	sort.Float64s(p99s)
	if len(p99s) > 0 {
		st.WorstP99MS = p99s[len(p99s)-1]
	}
	return st
}
