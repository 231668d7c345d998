package ivr

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := NewStore(filepath.Join(t.TempDir(), "prompts"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestValidNameHostile(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"landsa", true},
		{"holdmusic.mp3", true},
		{"con", true},
		{"nul.wav", true},
		{"a b.wav", true},
		{"välkommen.wav", true},
		{"x..y", true},
		{strings.Repeat("a", MaxNameLength), true},
		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"../../etc/passwd", false},
		{"/etc/passwd", false},
		{"a/b", false},
		{`a\b`, false},
		{`..\x`, false},
		{"C:x", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"a\u0085b", false},
		{".hidden", false},
		{".tmp-0123456789abcdef", false},
		{" x", false},
		{"x ", false},
		{"\xff\xfe", false},
		{strings.Repeat("a", MaxNameLength+1), false},
	}
	for _, tt := range tests {
		err := ValidName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil {
			var ne *NameError
			if !errors.Is(err, ErrBadName) || !errors.As(err, &ne) || ne.Name != tt.name {
				t.Errorf("ValidName(%q): error %v is not a *NameError wrapping ErrBadName", tt.name, err)
			}
		}
	}
}

func TestStoreRefusesHostileNamesEverywhere(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	for _, name := range []string{"../escape", "/etc/passwd", "a\x00b", ".hidden", ""} {
		if _, err := s.Put(ctx, name, strings.NewReader("x"), 0); !errors.Is(err, ErrBadName) {
			t.Errorf("Put(%q): %v", name, err)
		}
		if _, _, err := s.Open(name); !errors.Is(err, ErrBadName) {
			t.Errorf("Open(%q): %v", name, err)
		}
		if _, _, err := s.Resolve(name); !errors.Is(err, ErrBadName) {
			t.Errorf("Resolve(%q): %v", name, err)
		}
		if err := s.Delete(name); !errors.Is(err, ErrBadName) {
			t.Errorf("Delete(%q): %v", name, err)
		}
		if _, err := s.Create(name); !errors.Is(err, ErrBadName) {
			t.Errorf("Create(%q): %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.Dir()), "escape")); !os.IsNotExist(err) {
		t.Error("a file was written outside the store")
	}
}

func TestStoreSymlinkOutsideRefused(t *testing.T) {
	s := newTestStore(t)
	outside := filepath.Join(t.TempDir(), "secret.wav")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "link.wav")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if _, _, err := s.Open("link.wav"); err == nil {
		t.Error("Open followed a link out of the store")
	}
	if _, _, err := s.Resolve("link"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve followed a link out of the store: %v", err)
	}
	files, _ := s.List()
	if len(files) != 0 {
		t.Errorf("List shows %v", files)
	}
}

func TestStorePutOpenDelete(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	n, err := s.Put(ctx, "greeting.wav", strings.NewReader("RIFF first"), 100)
	if err != nil || n != 10 {
		t.Fatalf("Put: %d, %v", n, err)
	}
	if _, err := s.Put(ctx, "greeting.wav", strings.NewReader("RIFF second"), 100); err != nil {
		t.Fatal(err) // replaces
	}
	f, fi, err := s.Open("greeting.wav")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	_ = f.Close()
	if string(b) != "RIFF second" || fi.Size() != 11 {
		t.Errorf("read %q (%d bytes)", b, fi.Size())
	}
	if _, _, err := s.Open("greeting"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open without extension: %v, want ErrNotFound (exact names only)", err)
	}
	if err := s.Delete("greeting.wav"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("greeting.wav"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if err := os.Mkdir(filepath.Join(s.Dir(), "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("dir"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete of a directory: %v", err)
	}
	if _, _, err := s.Open("dir"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of a directory: %v", err)
	}
}

// tempFiles returns the names in dir that are not prompt files.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestStorePutTooLargeLeavesNothing(t *testing.T) {
	s := newTestStore(t)
	_, err := s.Put(t.Context(), "big.wav", strings.NewReader(strings.Repeat("x", 101)), 100)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	if _, _, err := s.Open("big.wav"); !errors.Is(err, ErrNotFound) {
		t.Error("an oversized upload is visible")
	}
	if tmp := tempFiles(t, s.Dir()); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
	// Exactly the limit is fine.
	if n, err := s.Put(t.Context(), "big.wav", strings.NewReader(strings.Repeat("x", 100)), 100); err != nil || n != 100 {
		t.Errorf("Put of exactly maxSize: %d, %v", n, err)
	}
}

// failingReader yields some bytes, then fails: an upload cut mid-way.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "RIFF partial"), nil
	}
	return 0, errors.New("connection reset")
}

func TestStorePutFailureKeepsOldFile(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.Put(t.Context(), "menu.wav", strings.NewReader("old"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "menu.wav", &failingReader{}, 0); err == nil {
		t.Fatal("a failed upload succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, "menu.wav", strings.NewReader("new"), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir(), "menu.wav"))
	if string(b) != "old" {
		t.Errorf("file is %q after failed uploads, want the old one", b)
	}
	if tmp := tempFiles(t, s.Dir()); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}

func TestStoreResolveOrder(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	put := func(name string) {
		t.Helper()
		if _, err := s.Put(ctx, name, strings.NewReader(name), 0); err != nil {
			t.Fatal(err)
		}
	}
	put("b.mp3")
	check := func(name, want string) {
		t.Helper()
		path, fi, err := s.Resolve(name)
		if err != nil || filepath.Base(path) != want || fi.Name() != want || filepath.Dir(path) != s.Dir() {
			t.Errorf("Resolve(%q) = %q, %v; want %q", name, path, err, want)
		}
	}
	check("b", "b.mp3")
	put("b.wav")
	check("b", "b.wav")
	put("b")
	check("b", "b")
	check("b.mp3", "b.mp3")
	if err := os.Mkdir(filepath.Join(s.Dir(), "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	put("d.wav")
	check("d", "d.wav") // the directory "d" does not count
	if _, _, err := s.Resolve("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(missing): %v", err)
	}
	long := strings.Repeat("n", MaxNameLength)
	put(long)
	check(long, long) // no room for an extension: the exact name only
}

func TestStoreList(t *testing.T) {
	s := newTestStore(t)
	for _, name := range []string{"b.wav", "a.mp3"} {
		if _, err := s.Put(t.Context(), name, strings.NewReader("12345"), 0); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.WriteFile(filepath.Join(s.Dir(), ".hidden"), nil, 0o644)
	_ = os.WriteFile(filepath.Join(s.Dir(), tempPrefix+"abc"), nil, 0o644)
	_ = os.Mkdir(filepath.Join(s.Dir(), "sub"), 0o755)
	files, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		if f.Size != 5 || f.ModTime.IsZero() {
			t.Errorf("%+v", f)
		}
	}
	if !slices.Equal(names, []string{"a.mp3", "b.wav"}) {
		t.Errorf("List = %v", names)
	}
}

func TestStoreCreate(t *testing.T) {
	s := newTestStore(t)
	tests := []struct {
		name, want string
		err        error
	}{
		{"rec1", "rec1.wav", nil},
		{"rec2.wav", "rec2.wav", nil},
		{"rec3.WAV", "rec3.WAV", nil},
		{"call.2024-01-01", "call.2024-01-01.wav", nil},
		{"rec1", "", ErrExists},
		{"rec1.wav", "", ErrExists},
		{"song.mp3", "", ErrBadName},
		{"song.MP3", "", ErrBadName},
		{"../x", "", ErrBadName},
		{strings.Repeat("r", MaxNameLength-2), "", ErrBadName}, // no room for .wav
	}
	for _, tt := range tests {
		f, err := s.Create(tt.name)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Create(%q): %v, want %v", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Create(%q): %v", tt.name, err)
			continue
		}
		if filepath.Base(f.Name()) != tt.want {
			t.Errorf("Create(%q) made %q, want %q", tt.name, f.Name(), tt.want)
		}
		_ = f.Close()
	}
}

func TestNewStoreRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, tempPrefix+"old")
	fresh := filepath.Join(dir, tempPrefix+"new")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temp file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh temp file (another instance's upload) removed")
	}
	if _, err := NewStore(""); err == nil {
		t.Error("NewStore with no directory succeeded")
	}
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"landsa", "../x", "a/b", `a\b`, ".h", "a\x00b", "x.wav", "..", "C:", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidName(name)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// An accepted name stays in the directory, whatever joins it.
		base := filepath.Join("/srv", "prompts")
		p := filepath.Join(base, name)
		if filepath.Dir(p) != base || filepath.Base(p) != name || !filepath.IsLocal(name) {
			t.Fatalf("accepted %q escapes: %q", name, p)
		}
		if strings.ContainsAny(name, "/\\\x00") || name[0] == '.' || len(name) > MaxNameLength {
			t.Fatalf("accepted %q", name)
		}
	})
}
