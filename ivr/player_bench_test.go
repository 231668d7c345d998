package ivr

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// BenchmarkPlayerFrame measures one tick of an IVR playing a cached prompt
// to a PCMU leg while collecting DTMF: hear the caller's frame, advance,
// copy the pre-encoded frame out. It must not allocate.
func BenchmarkPlayerFrame(b *testing.B) {
	p := NewPlayer(PlayerConfig{Loader: testPrompts, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer p.Close()
	p.Execute(Command{Background: &Phrase{Format: "file", FileName: "greet"}, Dtmf: &Collect{MaxDigits: 4, Timeout: time.Hour}})
	now := time.Unix(0, 0)
	for p.st.bg == nil { // wait for the load
		p.Process(now)
		time.Sleep(time.Millisecond)
	}
	var in media.Frame
	out := make([]byte, media.FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		p.WriteFrame(&in)
		p.Process(now)
		if !p.ReadEncoded(media.CodecPCMU, out) {
			b.Fatal("no prompt frame")
		}
		now = now.Add(media.FrameDuration)
	}
}
