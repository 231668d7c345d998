package media

import "time"

// Internal audio format: 16-bit linear PCM, 8 kHz mono, 20 ms frames.
const (
	// SampleRate is the internal and G.711 sample rate in Hz.
	SampleRate = 8000
	// FrameSamples is the number of samples in one 20 ms frame.
	FrameSamples = 160
	// FrameDuration is the duration of one frame.
	FrameDuration = 20 * time.Millisecond
	// MaxPacketSize is the largest RTP/RTCP datagram we accept; longer ones
	// are dropped as malformed. Buffers are MaxPacketSize+1 so that a longer
	// datagram is detectable, plus SRTPTailroom bytes for SRTP tags.
	MaxPacketSize = 1500
	// SRTPTailroom is kept free after every packet in a buffer (decision 9).
	SRTPTailroom = 16
)

// Frame is 20 ms of 16-bit linear PCM at 8 kHz mono.
type Frame [FrameSamples]int16

// Codec is a G.711 variant. The zero value is no codec.
type Codec uint8

// Codecs.
const (
	CodecNone Codec = iota
	CodecPCMU
	CodecPCMA
)

// PayloadType returns the static RTP payload type of c.
func (c Codec) PayloadType() uint8 {
	if c == CodecPCMA {
		return 8
	}
	return 0
}

// String returns the SDP encoding name.
func (c Codec) String() string {
	switch c {
	case CodecPCMU:
		return "PCMU"
	case CodecPCMA:
		return "PCMA"
	}
	return "none"
}

// CodecForPayloadType returns the codec with static payload type pt.
func CodecForPayloadType(pt uint8) Codec {
	switch pt {
	case 0:
		return CodecPCMU
	case 8:
		return CodecPCMA
	}
	return CodecNone
}
