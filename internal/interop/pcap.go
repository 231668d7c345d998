package interop

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// Classic pcap file format (https://www.tcpdump.org/manpages/pcap-savefile.5.html):
// a 24-byte file header, then per packet a 16-byte record header and the
// captured bytes.
const (
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16
	pcapMagicMicro      = 0xa1b2c3d4
	pcapMagicNano       = 0xa1b23c4d
)

// Link types (https://www.tcpdump.org/linktypes.html) that ReadPcap decodes.
const (
	linkNull     = 0   // BSD loopback: 4-byte address family
	linkEthernet = 1   // Linux lo as dumpcap captures it
	linkRaw      = 101 // raw IP
	linkSLL      = 113 // Linux cooked capture v1
	linkIPv4     = 228
	linkSLL2     = 276 // Linux cooked capture v2
)

// UDPPacket is one UDP datagram of a capture.
type UDPPacket struct {
	// Time is when it was captured.
	Time time.Time
	// Src and Dst are its source and destination.
	Src, Dst netip.AddrPort
	// Payload is the UDP payload. It aliases the capture's bytes.
	Payload []byte
	// Offset is the position of Payload in the file, for rewriting.
	Offset int
}

// ReadPcap reads the classic pcap file at path (as dumpcap -P writes it) and
// returns its IPv4 UDP datagrams in capture order. Other packets (IPv6, TCP,
// ICMP, IP fragments after the first) are skipped. A truncated last record, as
// in a file still being written, is ignored.
func ReadPcap(path string) ([]UDPPacket, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("interop: read pcap: %w", err)
	}
	pkts, err := ParsePcap(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pkts, nil
}

// ParsePcap is ReadPcap on the bytes of a file. The packets' payloads alias
// data.
func ParsePcap(data []byte) ([]UDPPacket, error) {
	if len(data) < pcapFileHeaderLen {
		return nil, fmt.Errorf("%w: short file header", ErrBadPcap)
	}
	var order binary.ByteOrder = binary.LittleEndian
	nano := false
	switch binary.LittleEndian.Uint32(data) {
	case pcapMagicMicro:
	case pcapMagicNano:
		nano = true
	default:
		order = binary.BigEndian
		switch binary.BigEndian.Uint32(data) {
		case pcapMagicMicro:
		case pcapMagicNano:
			nano = true
		default:
			return nil, fmt.Errorf("%w: not a classic pcap file (pcapng? use dumpcap -P)", ErrBadPcap)
		}
	}
	link := order.Uint32(data[20:24]) & 0x0fffffff
	var pkts []UDPPacket
	for off := pcapFileHeaderLen; off+pcapRecordHeaderLen <= len(data); {
		rec := data[off : off+pcapRecordHeaderLen]
		sec, frac, incl := order.Uint32(rec[0:4]), order.Uint32(rec[4:8]), int(order.Uint32(rec[8:12]))
		start := off + pcapRecordHeaderLen
		if incl < 0 || start+incl > len(data) {
			break // truncated last record
		}
		off = start + incl
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		ip, ipOff, ok := linkPayload(data[start:off], link)
		if !ok {
			continue
		}
		if p, ok := parseIPv4UDP(ip); ok {
			p.Time = time.Unix(int64(sec), ns)
			p.Offset += start + ipOff
			pkts = append(pkts, p)
		}
	}
	return pkts, nil
}

// linkPayload strips the link-layer header of frame and returns the IPv4
// packet and its offset in frame.
func linkPayload(frame []byte, link uint32) ([]byte, int, bool) {
	var off int
	switch link {
	case linkEthernet:
		if len(frame) < 14 {
			return nil, 0, false
		}
		off = 14
		etherType := binary.BigEndian.Uint16(frame[12:14])
		for etherType == 0x8100 && len(frame) >= off+4 { // VLAN tags
			etherType = binary.BigEndian.Uint16(frame[off+2 : off+4])
			off += 4
		}
		if etherType != 0x0800 {
			return nil, 0, false
		}
	case linkSLL:
		if len(frame) < 16 || binary.BigEndian.Uint16(frame[14:16]) != 0x0800 {
			return nil, 0, false
		}
		off = 16
	case linkSLL2:
		if len(frame) < 20 || binary.BigEndian.Uint16(frame[0:2]) != 0x0800 {
			return nil, 0, false
		}
		off = 20
	case linkNull:
		if len(frame) < 4 {
			return nil, 0, false
		}
		off = 4
	case linkRaw, linkIPv4:
	default:
		return nil, 0, false
	}
	return frame[off:], off, true
}

// parseIPv4UDP returns the UDP datagram in the IPv4 packet ip, with Offset
// set to the payload's offset in ip.
func parseIPv4UDP(ip []byte) (UDPPacket, bool) {
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
		return UDPPacket{}, false
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl+8 {
		return UDPPacket{}, false
	}
	if fragOff := binary.BigEndian.Uint16(ip[6:8]) & 0x1fff; fragOff != 0 {
		return UDPPacket{}, false
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total < ihl+8 || total > len(ip) {
		total = len(ip) // snapped, or a zero length from segmentation offload
	}
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	udp := ip[ihl:total]
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		ulen = len(udp)
	}
	return UDPPacket{
		Src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:2])),
		Dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(udp[2:4])),
		Payload: udp[8:ulen],
		Offset:  ihl + 8,
	}, true
}

// RewritePcap copies the pcap file in to out, letting edit change each UDP
// payload in place (its length cannot change). The UDP checksum of an edited
// packet is cleared (0 means none for IPv4, RFC 768), so tools that replay
// the file send valid packets. It returns how many payloads edit changed.
func RewritePcap(in, out string, edit func(i int, payload []byte)) (int, error) {
	data, err := os.ReadFile(in)
	if err != nil {
		return 0, fmt.Errorf("interop: rewrite pcap: %w", err)
	}
	pkts, err := ParsePcap(data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", in, err)
	}
	changed := 0
	for i, p := range pkts {
		before := string(p.Payload)
		edit(i, p.Payload)
		if string(p.Payload) != before {
			changed++
			data[p.Offset-2], data[p.Offset-1] = 0, 0 // UDP checksum
		}
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return 0, fmt.Errorf("interop: rewrite pcap: %w", err)
	}
	return changed, nil
}
