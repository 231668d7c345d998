package interop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPcap builds a little-endian microsecond pcap of Ethernet/IPv4/UDP
// datagrams from 127.0.0.1:src to 127.0.0.1:dst.
func testPcap(t0 time.Time, src, dst uint16, payloads ...[]byte) []byte {
	var b bytes.Buffer
	hdr := make([]byte, pcapFileHeaderLen)
	binary.LittleEndian.PutUint32(hdr[0:], pcapMagicMicro)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], linkEthernet)
	b.Write(hdr)
	for i, p := range payloads {
		frame := make([]byte, 14+20+8+len(p))
		binary.BigEndian.PutUint16(frame[12:], 0x0800)
		ip := frame[14:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(p)))
		ip[8], ip[9] = 64, 17
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		udp := ip[20:]
		binary.BigEndian.PutUint16(udp[0:], src)
		binary.BigEndian.PutUint16(udp[2:], dst)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(p)))
		binary.BigEndian.PutUint16(udp[6:], 0xbeef) // a checksum
		copy(udp[8:], p)
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		rec := make([]byte, pcapRecordHeaderLen)
		binary.LittleEndian.PutUint32(rec[0:], uint32(at.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(at.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		b.Write(rec)
		b.Write(frame)
	}
	return b.Bytes()
}

func TestParsePcap(t *testing.T) {
	t0 := time.Unix(1700000000, 123000)
	data := testPcap(t0, 4000, 5000, []byte("one"), []byte("two!"))
	pkts, err := ParsePcap(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 2 {
		t.Fatalf("got %d packets, want 2", len(pkts))
	}
	want := netip.MustParseAddrPort("127.0.0.1:4000")
	if p := pkts[1]; p.Src != want || p.Dst.Port() != 5000 || string(p.Payload) != "two!" ||
		!p.Time.Equal(t0.Add(20*time.Millisecond)) || string(data[p.Offset:p.Offset+4]) != "two!" {
		t.Errorf("packet 1: %+v", p)
	}

	// A record cut short, as in a file being written, is ignored.
	pkts, err = ParsePcap(data[:len(data)-2])
	if err != nil || len(pkts) != 1 {
		t.Errorf("truncated: %d packets, %v; want 1", len(pkts), err)
	}
	for _, bad := range [][]byte{nil, []byte("not a pcap file at all!!"), {0x0a, 0x0d, 0x0d, 0x0a}} {
		if _, err := ParsePcap(bad); !errors.Is(err, ErrBadPcap) {
			t.Errorf("ParsePcap(%q) = %v, want ErrBadPcap", bad, err)
		}
	}
}

func TestRewritePcap(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pcap"), filepath.Join(dir, "out.pcap")
	if err := os.WriteFile(in, testPcap(time.Unix(1, 0), 1, 2, []byte("abc"), []byte("xyz")), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := RewritePcap(in, out, func(i int, p []byte) {
		if i == 1 {
			p[0] = 'X'
		}
	})
	if err != nil || n != 1 {
		t.Fatalf("RewritePcap = %d, %v; want 1 change", n, err)
	}
	pkts, err := ReadPcap(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(pkts[0].Payload) != "abc" || string(pkts[1].Payload) != "Xyz" {
		t.Errorf("payloads %q %q", pkts[0].Payload, pkts[1].Payload)
	}
	raw, _ := os.ReadFile(out)
	if c0, c1 := raw[pkts[0].Offset-2:pkts[0].Offset], raw[pkts[1].Offset-2:pkts[1].Offset]; !bytes.Equal(c0, []byte{0xbe, 0xef}) || !bytes.Equal(c1, []byte{0, 0}) {
		t.Errorf("checksums %x %x, want the unchanged one kept and the changed one cleared", c0, c1)
	}
}

// TestShippedDTMFPcap checks SIPp's pcap as INTEROP.md describes it, and the
// variants PrepareDTMFPcap makes.
func TestShippedDTMFPcap(t *testing.T) {
	src := ShippedDTMFPcap(t, "5")
	dst := filepath.Join(t.TempDir(), "dtmf.pcap")
	if err := PrepareDTMFPcap(src, dst, DTMFPcapOptions{PayloadType: 96, FirstDuration: 160}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path      string
		pt        uint8
		firstDur  uint16
		secondDur uint16
	}{{src, 101, 0, 320}, {dst, 96, 160, 320}} {
		pkts, err := ReadPcap(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		evs := TelephoneEvents(RTPTo(pkts, 10000))
		if len(evs) != 10 {
			t.Fatalf("%s: %d events, want 10", tc.path, len(evs))
		}
		if e := evs[0]; e.Event != 5 || e.Packet.PayloadType != tc.pt || !e.Packet.Marker || e.Duration != tc.firstDur || e.End {
			t.Errorf("%s: first packet %v", tc.path, e)
		}
		if e := evs[1]; e.Duration != tc.secondDur || e.Packet.Marker || e.Packet.PayloadType != tc.pt {
			t.Errorf("%s: second packet %v", tc.path, e)
		}
		if e := evs[9]; !e.End || e.Event != 5 {
			t.Errorf("%s: last packet %v", tc.path, e)
		}
	}
}

func FuzzParsePcap(f *testing.F) {
	f.Add(testPcap(time.Unix(1, 0), 1, 2, []byte("abc")))
	if src, err := filepath.Glob("/usr/share/sip-tester/dtmf_2833_1.pcap"); err == nil && len(src) == 1 {
		if data, err := os.ReadFile(src[0]); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := ParsePcap(data)
		if err != nil && !errors.Is(err, ErrBadPcap) {
			t.Fatalf("error %v does not wrap ErrBadPcap", err)
		}
		for _, p := range pkts {
			if p.Offset < 0 || p.Offset+len(p.Payload) > len(data) {
				t.Fatalf("payload at %d+%d outside %d bytes", p.Offset, len(p.Payload), len(data))
			}
			_ = RTPTo([]UDPPacket{p}, p.Dst.Port())
		}
	})
}
