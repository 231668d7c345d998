package media

// PCMFrame returns frame i of p's PCM (FrameSamples samples), shared: the
// caller must not modify it. i must be below Frames().
func (p *Prompt) PCMFrame(i int) []int16 {
	return p.pcm[i*FrameSamples : (i+1)*FrameSamples]
}

// EncodedFrame returns frame i of p pre-encoded in c, shared, or nil for an
// unknown codec. i must be below Frames().
func (p *Prompt) EncodedFrame(c Codec, i int) []byte {
	switch c {
	case CodecPCMU:
		return p.pcmu[i*FrameSamples : (i+1)*FrameSamples]
	case CodecPCMA:
		return p.pcma[i*FrameSamples : (i+1)*FrameSamples]
	}
	return nil
}
