package ivr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxNameLength is the longest prompt file name in bytes (the limit of
// common file systems).
const MaxNameLength = 255

// tempPrefix starts the names of files being uploaded. ValidName refuses
// names with a leading dot, so no client can name, list or open them.
const tempPrefix = ".tmp-"

// staleTemp is the age after which NewStore removes a temp file: one left
// by a crash during Put (another instance sharing the directory may have
// a Put in progress, so fresh ones stay).
const staleTemp = time.Hour

// Store is a directory of prompt files (API.md §3.10): the files phrases
// play by name, uploads of PUT /promptfile and recordings. Every name is
// checked by ValidName and every access goes through an os.Root, so no
// name, symbolic link or race can reach a file outside the directory.
// Only regular files count; hidden files (a leading dot) are invisible.
//
// Put is atomic (temp file, fsync, rename): a crash never leaves a half
// file under the final name. A Store is safe for concurrent use; Close
// releases the directory handle.
type Store struct {
	dir  string
	root *os.Root
}

// PromptFile describes one file in a Store.
type PromptFile struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
}

// NewStore opens the directory dir (Config.DataDir), creating it when
// missing, and removes temp files that crashed uploads left more than an
// hour ago.
func NewStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("ivr: store: no directory given")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ivr: store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("ivr: store: %w", err)
	}
	s := &Store{dir: dir, root: root}
	s.removeStaleTemps(time.Now().Add(-staleTemp))
	return s, nil
}

// Dir returns the directory of the store.
func (s *Store) Dir() string { return s.dir }

// Close releases the directory handle. The Store must not be used after.
func (s *Store) Close() error { return s.root.Close() }

// ValidName reports whether name is a safe prompt file name: a plain file
// name in the store's directory, nothing else. It refuses the empty name,
// "." and "..", any leading dot (hidden files, and our temp files), a
// path separator (/ or \), a colon (Windows drives and streams), NUL and
// other control characters, invalid UTF-8, leading or trailing spaces,
// and names longer than MaxNameLength bytes. The error is a *NameError
// wrapping ErrBadName. Names such as "con" or "holdmusic.mp3" are fine.
func ValidName(name string) error {
	bad := func(reason string) error { return &NameError{Name: name, Reason: reason} }
	switch {
	case name == "":
		return bad("empty")
	case len(name) > MaxNameLength:
		return bad(fmt.Sprintf("longer than %d bytes", MaxNameLength))
	case name[0] == '.':
		return bad("starts with a dot")
	case strings.ContainsAny(name, `/\`):
		return bad("contains a path separator")
	case strings.ContainsRune(name, ':'):
		return bad("contains a colon")
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return bad("leading or trailing space")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return bad("contains a control character")
		}
	}
	if !filepath.IsLocal(name) || filepath.Base(name) != name {
		return bad("not a plain file name")
	}
	return nil
}

// Put stores what r yields under name, replacing any file of that name
// atomically. At most maxSize bytes are accepted (maxSize <= 0: no
// limit); beyond that Put fails with ErrTooLarge and leaves nothing
// behind. It returns the number of bytes stored. It stops with ctx's
// error between reads when ctx ends.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, maxSize int64) (int64, error) {
	if err := ValidName(name); err != nil {
		return 0, err
	}
	tmp, tmpName, err := s.createTemp()
	if err != nil {
		return 0, fmt.Errorf("ivr: store %q: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = s.root.Remove(tmpName)
		}
	}()
	src := r
	if maxSize > 0 {
		src = io.LimitReader(r, maxSize+1)
	}
	n, err := copyContext(ctx, tmp, src)
	if err != nil {
		return 0, fmt.Errorf("ivr: store %q: %w", name, err)
	}
	if maxSize > 0 && n > maxSize {
		return 0, fmt.Errorf("ivr: store %q: %w: more than %d bytes", name, ErrTooLarge, maxSize)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("ivr: store %q: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("ivr: store %q: %w", name, err)
	}
	if err := s.root.Rename(tmpName, name); err != nil {
		return 0, fmt.Errorf("ivr: store %q: %w", name, err)
	}
	done = true
	s.syncDir()
	return n, nil
}

func (s *Store) createTemp() (*os.File, string, error) {
	for range 10 {
		name := tempPrefix + hex.EncodeToString(randomBytes(8))
		f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", errors.New("cannot create a temp file")
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// syncDir makes a rename durable; failure only weakens durability.
func (s *Store) syncDir() {
	if d, err := s.root.Open("."); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// copyContext copies src to dst, checking ctx between reads.
func copyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := src.Read(buf)
		if k > 0 {
			w, werr := dst.Write(buf[:k])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// Open opens the file called exactly name for reading (no fallback to an
// extension: see Resolve). It fails with ErrBadName for an unsafe name
// and ErrNotFound when there is no regular file of that name. The caller
// closes the file.
func (s *Store) Open(name string) (*os.File, fs.FileInfo, error) {
	if err := ValidName(name); err != nil {
		return nil, nil, err
	}
	f, fi, err := s.openFile(name)
	if err != nil {
		return nil, nil, err
	}
	return f, fi, nil
}

func (s *Store) openFile(name string) (*os.File, fs.FileInfo, error) {
	f, err := s.root.Open(name)
	if err != nil {
		return nil, nil, s.notFound(name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("ivr: prompt file %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%w: %q is not a regular file", ErrNotFound, name)
	}
	return f, fi, nil
}

func (s *Store) notFound(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return fmt.Errorf("ivr: prompt file %q: %w", name, err)
}

// candidates returns the names Resolve tries, in order (API.md §3.10).
func candidates(name string) []string {
	out := []string{name}
	for _, ext := range []string{".wav", ".mp3"} {
		if len(name)+len(ext) <= MaxNameLength {
			out = append(out, name+ext)
		}
	}
	return out
}

// Resolve finds the file a phrase's fileName names (API.md §3.10): the
// exact name, then name+".wav", then name+".mp3". It returns the file's
// path and information, ErrBadName for an unsafe name, or ErrNotFound
// when none is a regular file. Symbolic links are followed only inside
// the directory.
func (s *Store) Resolve(name string) (string, fs.FileInfo, error) {
	if err := ValidName(name); err != nil {
		return "", nil, err
	}
	for _, c := range candidates(name) {
		fi, err := s.root.Stat(c)
		if err == nil && fi.Mode().IsRegular() {
			return filepath.Join(s.dir, c), fi, nil
		}
	}
	return "", nil, fmt.Errorf("%w: %q (nor .wav or .mp3)", ErrNotFound, name)
}

// Delete removes the file called exactly name. It fails with ErrBadName
// for an unsafe name and ErrNotFound when there is no regular file of
// that name.
func (s *Store) Delete(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	fi, err := s.root.Lstat(name)
	if err != nil {
		return s.notFound(name, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: %q is a directory", ErrNotFound, name)
	}
	if err := s.root.Remove(name); err != nil {
		return s.notFound(name, err)
	}
	return nil
}

// List returns the prompt files in the store, sorted by name: regular
// files (or links to them inside the directory) with valid names.
func (s *Store) List() ([]PromptFile, error) {
	d, err := s.root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("ivr: list prompt files: %w", err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("ivr: list prompt files: %w", err)
	}
	out := []PromptFile{}
	for _, e := range entries {
		if ValidName(e.Name()) != nil {
			continue
		}
		fi, err := s.root.Stat(e.Name())
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, PromptFile{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	slices.SortFunc(out, func(a, b PromptFile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RecordingName returns the file name a recording called name gets
// (decision 18): name itself when it ends in ".wav" (any case), else
// name+".wav". A name ending in ".mp3" is refused (recordings are WAV), as
// is any name ValidName refuses; both errors wrap ErrBadName.
func RecordingName(name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".wav":
		return name, nil
	case ".mp3":
		return "", &NameError{Name: name, Reason: "recordings are WAV: an .mp3 name is refused"}
	}
	if err := ValidName(name + ".wav"); err != nil {
		return "", err
	}
	return name + ".wav", nil
}

// Create creates the file of a recording called name, exclusively: it
// fails with ErrExists when the file (after RecordingName) already
// exists, and with ErrBadName for a name RecordingName refuses. The
// file's Name is its path, so filepath.Base(f.Name()) is the name to
// report. The caller writes (media.NewWAVWriter) and closes it.
func (s *Store) Create(name string) (*os.File, error) {
	final, err := RecordingName(name)
	if err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(final, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %q", ErrExists, final)
	}
	if err != nil {
		return nil, fmt.Errorf("ivr: create recording %q: %w", final, err)
	}
	return f, nil
}

// removeStaleTemps deletes temp files of uploads older than before.
func (s *Store) removeStaleTemps(before time.Time) {
	d, err := s.root.Open(".")
	if err != nil {
		return
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(before) {
			_ = s.root.Remove(e.Name())
		}
	}
}
