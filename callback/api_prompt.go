package callback

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

// promptFile serves GET, HEAD, PUT and DELETE /{domain}/promptfile/{filename}
// (API.md §3.10). The name is checked by the server's prompt store (plain
// file names only); the path itself was checked for . and .. segments.
func (a *API) promptFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("filename")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		a.getPrompt(w, r, name)
	case http.MethodPut:
		a.putPrompt(w, r, name)
	case http.MethodDelete:
		if err := a.srv.DeletePrompt(name); err != nil {
			a.fail(w, r, "promptfile", err)
			return
		}
		a.ok(w, okResponse{})
	default:
		methodNotAllowed(w, "GET, HEAD, PUT, DELETE, OPTIONS")
	}
}

// getPrompt sends the file name names: the exact name, then name.wav,
// then name.mp3, as the IVR resolves a phrase's fileName.
func (a *API) getPrompt(w http.ResponseWriter, r *http.Request, name string) {
	f, fi, resolved, err := a.openPrompt(name)
	if err != nil {
		a.fail(w, r, "promptfile", err)
		return
	}
	defer func() { _ = f.Close() }()
	w.Header().Set("Content-Type", audioType(resolved))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": resolved}))
	http.ServeContent(w, r, resolved, fi.ModTime(), f)
}

func (a *API) openPrompt(name string) (*os.File, fs.FileInfo, string, error) {
	return a.srv.ResolvePrompt(name)
}

// audioType is the Content-Type of a prompt file by its extension.
func audioType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".wav":
		return "audio/wav"
	case ".mp3":
		return "audio/mpeg"
	}
	return "application/octet-stream"
}

// putPrompt stores the raw body under name, atomically, at most
// MaxPromptSize bytes.
func (a *API) putPrompt(w http.ResponseWriter, r *http.Request, name string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(strings.HasPrefix(mt, "audio/") || mt == "application/octet-stream") {
			writeError(w, http.StatusUnsupportedMediaType, codeInvalidRequest,
				fmt.Sprintf("Content-Type %q: want audio/* or application/octet-stream", ct))
			return
		}
	}
	switch {
	case r.ContentLength == 0:
		writeError(w, http.StatusBadRequest, codeInvalidRequest, "empty body")
		return
	case r.ContentLength > a.cfg.MaxPromptSize:
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, codeInvalidRequest,
			fmt.Sprintf("%s bytes is over the limit of %d", strconv.FormatInt(r.ContentLength, 10), a.cfg.MaxPromptSize))
		return
	}
	idle := &idleReader{r: r.Body, rc: http.NewResponseController(w), idle: a.cfg.UploadIdleTimeout, ok: true}
	defer idle.clear()
	body := bufio.NewReader(idle)
	if _, err := body.Peek(1); err != nil && !errors.Is(err, io.EOF) {
		a.uploadCut(w, r, name, 0, err)
		return
	} else if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidRequest, "empty body")
		return
	}
	if _, err := a.srv.PutPrompt(r.Context(), name, body, a.cfg.MaxPromptSize); err != nil {
		switch {
		case errors.Is(err, mediaserver.ErrTooLarge):
			w.Header().Set("Connection", "close")
		case idle.err != nil, r.Context().Err() != nil:
			a.uploadCut(w, r, name, idle.n, err)
			return
		}
		a.fail(w, r, "promptfile", err)
		return
	}
	a.ok(w, okResponse{})
}

// uploadCut answers an upload the client cut off or let stall: the client's
// fault, not the server's, so a warning rather than an error, and the
// connection is closed. The store has already removed its temp file.
func (a *API) uploadCut(w http.ResponseWriter, r *http.Request, name string, n int64, err error) {
	a.log.Warn("api: prompt upload abandoned", "file", name, "bytes", n, "remoteAddr", r.RemoteAddr, logErr, err)
	w.Header().Set("Connection", "close")
	if errors.Is(err, os.ErrDeadlineExceeded) {
		writeError(w, http.StatusRequestTimeout, codeInvalidRequest,
			fmt.Sprintf("upload stalled: nothing received for %s", a.cfg.UploadIdleTimeout))
		return
	}
	writeError(w, http.StatusBadRequest, codeInvalidRequest, "upload incomplete")
}

// idleReader moves the connection's read deadline idle ahead before every
// Read, so an upload that stops arriving fails with os.ErrDeadlineExceeded
// instead of holding its connection and temp file for ever. n counts the
// bytes read; err is the first error of the body other than EOF (a cut,
// a stall, malformed chunking: all the client's doing).
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
	ok   bool // the connection takes read deadlines
	n    int64
	err  error
}

func (ir *idleReader) Read(p []byte) (int, error) {
	if ir.ok && ir.rc.SetReadDeadline(time.Now().Add(ir.idle)) != nil {
		ir.ok = false
	}
	n, err := ir.r.Read(p)
	ir.n += int64(n)
	if err != nil && err != io.EOF && ir.err == nil {
		ir.err = err
	}
	return n, err
}

// clear lifts the deadline again for the next request on the connection.
func (ir *idleReader) clear() {
	if ir.ok {
		_ = ir.rc.SetReadDeadline(time.Time{})
	}
}
