package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/mediaserver-go/mediaserver/ivr"
)

// The prompt storage API (the Go side of /promptfile): files in
// Config.DataDir, played by "file" phrases and written by recordings.
// Names are plain file names (ivr.ValidName); errors wrap both this
// package's sentinels (ErrInvalid, ErrNotFound, ErrTooLarge,
// ErrInvalidState) and package ivr's.

// PutPrompt stores r under name, replacing a file of that name atomically
// (temp file, fsync, rename): a crash never leaves half a file under the
// final name. maxSize bounds the upload (0 means 64 MiB).
func (s *Server) PutPrompt(ctx context.Context, name string, r io.Reader, maxSize int64) (int64, error) {
	if maxSize <= 0 {
		maxSize = 64 << 20
	}
	n, err := s.store.Put(ctx, name, r, maxSize)
	return n, promptErr(err)
}

// OpenPrompt opens a prompt file or recording for reading; the caller
// closes it.
func (s *Server) OpenPrompt(name string) (*os.File, fs.FileInfo, error) {
	f, fi, err := s.store.Open(name)
	return f, fi, promptErr(err)
}

// ResolvePrompt opens a prompt file by the name a phrase would use: the
// exact name, else name+".wav", else name+".mp3" (API.md §3.10). It
// returns the file, its info and the name it found.
func (s *Server) ResolvePrompt(name string) (*os.File, fs.FileInfo, string, error) {
	_, fi, err := s.store.Resolve(name)
	if err != nil {
		return nil, nil, "", promptErr(err)
	}
	f, fi, err := s.store.Open(fi.Name())
	if err != nil {
		return nil, nil, "", promptErr(err)
	}
	return f, fi, fi.Name(), nil
}

// DeletePrompt removes a prompt file or recording.
func (s *Server) DeletePrompt(name string) error {
	return promptErr(s.store.Delete(name))
}

// ListPrompts lists the prompt files and recordings.
func (s *Server) ListPrompts() ([]ivr.PromptFile, error) {
	l, err := s.store.List()
	return l, promptErr(err)
}

// promptErr adds this package's sentinel to an ivr store error.
func promptErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ivr.ErrBadName):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	case errors.Is(err, ivr.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, ivr.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, ivr.ErrExists):
		return fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	return err
}
