package media_test

import (
	"fmt"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

func ExampleEncodePCMU() {
	pcm := []int16{0, 1000, -1000, 32767}
	ulaw := make([]byte, len(pcm))
	media.EncodePCMU(ulaw, pcm)
	back := make([]int16, len(ulaw))
	media.DecodePCMU(back, ulaw)
	fmt.Printf("% x\n%v\n", ulaw, back)
	// Output:
	// ff ce 4e 80
	// [0 988 -988 32124]
}

func ExampleParseRTP() {
	pkt := make([]byte, media.RTPHeaderSize+4)
	media.RTPHeader{Marker: true, PayloadType: 101, SequenceNumber: 7, Timestamp: 1600, SSRC: 0xCA110000}.MarshalTo(pkt)
	media.DTMFEvent{Event: 5, Volume: 10, Duration: 160}.MarshalTo(pkt[media.RTPHeaderSize:])

	h, payload, err := media.ParseRTP(pkt)
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, _ := media.ParseDTMFEvent(payload)
	fmt.Printf("%+v\n%+v\n", h, ev)
	// Output:
	// {Marker:true PayloadType:101 SequenceNumber:7 Timestamp:1600 SSRC:3390111744}
	// {Event:5 End:false Volume:10 Duration:160}
}

// ExampleDTMFSender shows the packets of a 100 ms digit, one per 20 ms
// tick, and a receiver reporting it once.
func ExampleDTMFSender() {
	var s media.DTMFSender
	var r media.DTMFReceiver
	if err := s.Start('7', 100*time.Millisecond); err != nil {
		fmt.Println(err)
		return
	}
	now := time.Unix(0, 0)
	seq := uint16(100)
	for {
		var payload [media.DTMFEventSize]byte
		n, marker, done := s.Next(payload[:])
		ev, _ := media.ParseDTMFEvent(payload[:n])
		h := media.RTPHeader{Marker: marker, PayloadType: 101, SequenceNumber: seq, Timestamp: 8000, SSRC: 1}
		digit, ok := r.Receive(h, ev, now)
		fmt.Printf("seq %d marker %-5v end %-5v duration %d", seq, marker, ev.End, ev.Duration)
		if ok {
			fmt.Printf(" -> digit %c", digit)
		}
		fmt.Println()
		if done {
			break
		}
		seq++
		now = now.Add(media.FrameDuration)
	}
	// Output:
	// seq 100 marker true  end false duration 160 -> digit 7
	// seq 101 marker false end false duration 320
	// seq 102 marker false end false duration 480
	// seq 103 marker false end false duration 640
	// seq 104 marker false end true  duration 800
	// seq 105 marker false end true  duration 800
	// seq 106 marker false end true  duration 800
}

// ExampleInbandDetector generates the tones of a digit and detects it.
func ExampleInbandDetector() {
	var d media.InbandDetector
	tone := media.NewDTMFTone('#')
	var f media.Frame
	for i := range 10 { // 60 ms of tone, then silence
		if i < 3 {
			tone.ReadFrame(&f)
		} else {
			f = media.Frame{}
		}
		if digit, ok := d.Process(&f); ok {
			fmt.Printf("frame %d: %c\n", i, digit)
		}
	}
	// Output:
	// frame 1: #
}

func ExampleToneShare() {
	g := media.NewToneGenerator(600, 1800, 0.3)
	pcm := make([]int16, 0, 4000)
	var f media.Frame
	for len(pcm) < cap(pcm) {
		g.ReadFrame(&f)
		pcm = append(pcm, f[:]...)
	}
	fmt.Printf("600 Hz %.2f, 1800 Hz %.2f, 1000 Hz %.2f\n",
		media.ToneShare(pcm, 600), media.ToneShare(pcm, 1800), media.ToneShare(pcm, 1000))
	// Output:
	// 600 Hz 0.50, 1800 Hz 0.50, 1000 Hz 0.00
}

// ExampleJitterBuffer pushes 30 ms packets and pops 20 ms frames.
func ExampleJitterBuffer() {
	var jb media.JitterBuffer
	start := time.Unix(0, 0)
	pcm := make([]int16, 240)
	for tick := range 8 {
		now := start.Add(time.Duration(tick) * media.FrameDuration)
		if tick%3 != 2 { // a 30 ms packet on two ticks of three
			k := tick - tick/3
			h := media.RTPHeader{Marker: k == 0, SequenceNumber: uint16(k), Timestamp: uint32(k * 240), SSRC: 9}
			jb.Push(h, pcm, now)
		}
		var f media.Frame
		fmt.Print(jb.Pop(&f), " ")
	}
	fmt.Println()
	// Output:
	// silence real real real real real real real
}
