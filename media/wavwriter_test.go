package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rampFrame returns frame i of a test signal that differs in every frame.
func rampFrame(i int, scale int16) *Frame {
	var f Frame
	for k := range f {
		f[k] = scale * int16((i*FrameSamples+k)%2000-1000)
	}
	return &f
}

func createFile(t *testing.T) (*os.File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.wav")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

// soxInfo returns sox's view of a WAV file: rate, channels and samples.
func soxInfo(t *testing.T, path string) (rate, channels, samples int) {
	t.Helper()
	sox, err := exec.LookPath("sox")
	if err != nil {
		t.Log("sox not installed: skipping its check")
		return -1, -1, -1
	}
	get := func(flag string) int {
		out, err := exec.Command(sox, "--i", flag, path).Output()
		if err != nil {
			t.Fatalf("sox --i %s: %v", flag, err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("sox --i %s: %q", flag, out)
		}
		return n
	}
	return get("-r"), get("-c"), get("-s")
}

func TestWAVWriterMono(t *testing.T) {
	f, path := createFile(t)
	w := NewWAVWriter(f, 1)
	var want []int16
	for i := range 130 { // 2.6 s
		fr := rampFrame(i, 10)
		want = append(want, fr[:]...)
		if err := w.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	if w.Duration().Milliseconds() != 2600 || w.Size() != 44+2*int64(len(want)) {
		t.Errorf("duration %v, size %d", w.Duration(), w.Size())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeWAV(data)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("read back %d samples (%v), want the %d written", len(got), err, len(want))
	}
	if binary.LittleEndian.Uint32(data[4:]) != uint32(len(data)-8) {
		t.Error("RIFF size not final")
	}
	if r, c, s := soxInfo(t, path); r >= 0 && (r != 8000 || c != 1 || s != len(want)) {
		t.Errorf("sox: %d Hz, %d channels, %d samples", r, c, s)
	}
}

func TestWAVWriterStereo(t *testing.T) {
	f, path := createFile(t)
	w := NewWAVWriter(f, 2)
	var left, right []int16
	for i := range 60 {
		l, r := rampFrame(i, 3), rampFrame(i+7, -5)
		if i == 10 {
			r = nil // silence
		}
		if err := w.WriteStereo(l, r); err != nil {
			t.Fatal(err)
		}
		left = append(left, l[:]...)
		if r == nil {
			r = &Frame{}
		}
		right = append(right, r[:]...)
	}
	if err := w.WriteFrame(&Frame{}); err == nil {
		t.Error("WriteFrame on a two-channel writer succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	info, err := parseWAV(data)
	if err != nil || info.channels != 2 || info.rate != 8000 || info.kind != kindPCM16 {
		t.Fatalf("header: %+v, %v", info, err)
	}
	for i := range left {
		l := int16(binary.LittleEndian.Uint16(info.data[4*i:]))
		r := int16(binary.LittleEndian.Uint16(info.data[4*i+2:]))
		if l != left[i] || r != right[i] {
			t.Fatalf("sample %d: %d/%d, want %d/%d", i, l, r, left[i], right[i])
		}
	}
	if r, c, s := soxInfo(t, path); r >= 0 && (r != 8000 || c != 2 || s != len(left)) {
		t.Errorf("sox: %d Hz, %d channels, %d samples", r, c, s)
	}
}

func TestWAVWriterSizesEverySecond(t *testing.T) {
	f, path := createFile(t)
	w := NewWAVWriter(f, 1)
	t.Cleanup(func() { _ = w.Close() })
	check := func(wantSamples int) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeWAV(data)
		if err != nil || len(got) != wantSamples {
			t.Fatalf("file holds %d samples (%v), want %d", len(got), err, wantSamples)
		}
	}
	check(0)
	for i := range 75 { // 1.5 s: the first second is on disk with its sizes
		if err := w.WriteFrame(rampFrame(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	check(8000)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	check(12000)
}

func TestWAVWriterErrors(t *testing.T) {
	f, _ := createFile(t)
	w := NewWAVWriter(f, 1)
	if err := w.WriteStereo(&Frame{}, &Frame{}); err == nil {
		t.Error("WriteStereo on a mono writer succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(&Frame{}); err == nil {
		t.Error("write after Close succeeded")
	}
	// A file opened read-only fails the header write; the error sticks.
	ro, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	w = NewWAVWriter(ro, 1)
	if err := w.WriteFrame(&Frame{}); err == nil {
		t.Error("write to a read-only file succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close hid the header write error")
	}
	defer func() {
		if recover() == nil {
			t.Error("NewWAVWriter with 3 channels did not panic")
		}
	}()
	NewWAVWriter(nil, 3)
}

// The crash test re-runs this test binary as a child that records 2.5 s,
// says so on stdout and waits to be killed with SIGKILL.
const crashEnv = "MEDIASERVER_WAVWRITER_CRASH_FILE"

func TestWAVWriterCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestWAVWriterSurvivesSIGKILL")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWAVWriter(f, 2)
	for i := range 125 {
		if err := w.WriteStereo(rampFrame(i, 2), rampFrame(i, -2)); err != nil {
			t.Fatal(err)
		}
	}
	os.Stdout.WriteString("recorded\n")
	select {} // killed here, without Close
}

func TestWAVWriterSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.wav")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWAVWriterCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "recorded\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child said %q (%v)", line, err)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("child exited cleanly: it was not killed")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// 2.5 s recorded, sizes last rewritten at 2 s: every whole second is
	// there, in both channels.
	info, err := parseWAV(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.data) != 2*2*2*SampleRate {
		t.Fatalf("%d bytes of audio, want 2 s", len(info.data))
	}
	for i := range 2 * SampleRate {
		l := int16(binary.LittleEndian.Uint16(info.data[4*i:]))
		r := int16(binary.LittleEndian.Uint16(info.data[4*i+2:]))
		if want := rampFrame(i/FrameSamples, 2)[i%FrameSamples]; l != want || r != -want {
			t.Fatalf("sample %d: %d/%d, want %d/%d", i, l, r, want, -want)
		}
	}
	mono, err := DecodeWAV(data)
	if err != nil || len(mono) != 2*SampleRate {
		t.Errorf("DecodeWAV: %d samples (%v), want %d", len(mono), err, 2*SampleRate)
	}
	if r, c, s := soxInfo(t, path); r >= 0 && (r != 8000 || c != 2 || s != 2*SampleRate) {
		t.Errorf("sox: %d Hz, %d channels, %d samples", r, c, s)
	}
}

// BenchmarkWAVWriterFrame is the cost of recording one mono frame,
// including the write every second amortised over 50 frames.
func BenchmarkWAVWriterFrame(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "bench.wav"))
	if err != nil {
		b.Fatal(err)
	}
	w := NewWAVWriter(f, 1)
	fr := rampFrame(1, 1)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteFrame(fr); err != nil {
			if errors.Is(err, ErrWAVFull) {
				b.Skip("file full")
			}
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
