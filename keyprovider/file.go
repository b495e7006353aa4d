package keyprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secureai-go/secureai/keyprovider/internal/safe"
)

// DefaultCheckInterval is the default of [FileOptions.CheckInterval].
const DefaultCheckInterval = time.Second

// maxFileSize bounds what File reads: a key file is small.
const maxFileSize = MaxKeyLen + 2

// FileOptions configures a [FileProvider].
type FileOptions struct {
	// CheckInterval is the least time between two checks of the file for
	// a change: a Key call that finds the last check older than this
	// stats the file (following symbolic links) and reads it again if it
	// changed. Zero means [DefaultCheckInterval]; negative means every
	// call checks.
	CheckInterval time.Duration
}

// FileProvider is a [Provider] that reads the key from a file, such as a
// Kubernetes or Docker secret mounted into the container, and notices
// when the file changes, without a restart. It returns the same key for
// every scope. Create it with [File].
//
// The file holds the key alone; one trailing newline ("\n" or "\r\n") is
// removed, and what is left must pass [ValidateKey].
//
// A change is noticed by stat: a different file (inode), size or
// modification time. Kubernetes updates a mounted secret by writing the new
// files into a new directory and swapping the "..data" symbolic link to it
// atomically; since the path is resolved on every check, the new file is
// seen at once and never half written. A tool that rewrites the file in
// place should write a temporary file and rename it over the old one.
//
// FileProvider implements [Invalidator]: after a key is rejected, Invalidate
// reads the file at once and succeeds only if it now holds a different key.
//
// The zero value is not usable. A FileProvider is safe for concurrent use.
type FileProvider struct {
	path     string
	interval time.Duration

	st atomic.Pointer[fileState]
	mu sync.Mutex // serialises checks and reads
}

// fileState is what the last check of the file found.
type fileState struct {
	key     Secret
	info    Info
	err     error       // of the last read, when it failed
	stat    fs.FileInfo // of the file read; nil if stat failed
	checked time.Time
}

// File returns a Provider that reads the key from the file at path. It
// reads the file at once and returns an error if it cannot be read or does
// not hold a valid key.
func File(path string, o FileOptions) (*FileProvider, error) {
	if path == "" {
		return nil, errors.New("keyprovider: file: empty path")
	}
	p := &FileProvider{path: path, interval: o.CheckInterval}
	if p.interval == 0 {
		p.interval = DefaultCheckInterval
	}
	p.mu.Lock()
	st := p.load(time.Now())
	p.mu.Unlock()
	if st.err != nil {
		return nil, st.err
	}
	return p, nil
}

// Key returns the key the file holds, reading the file again if it changed
// since the last check (at most once per [FileOptions.CheckInterval]). If
// the changed file cannot be read or holds no valid key, Key returns that
// error (a [*FetchError]) until a later check reads a valid key; a [Cache]
// in front keeps serving the last good key meanwhile, for its grace
// period. Key ignores ctx.
func (p *FileProvider) Key(ctx context.Context, scope Scope) (Secret, error) {
	k, _, err := p.KeyInfo(ctx, scope)
	return k, err
}

// KeyInfo is Key that also returns the key's [Info]: Source is
// "file:<path>" and Version the file's modification time.
func (p *FileProvider) KeyInfo(ctx context.Context, scope Scope) (Secret, Info, error) {
	if p == nil || p.path == "" {
		return Secret{}, Info{}, errUnusableFile
	}
	st := p.st.Load()
	if now := time.Now(); now.Sub(st.checked) >= p.interval {
		st = p.check(now)
	}
	if st.err != nil {
		return Secret{}, Info{}, st.err
	}
	return st.key, st.info, nil
}

var errUnusableFile = errors.New("keyprovider: FileProvider not created by File")

// check stats the file and reads it if it changed.
func (p *FileProvider) check(now time.Time) *fileState {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.st.Load()
	if now.Sub(prev.checked) < p.interval {
		return prev // another caller checked meanwhile
	}
	fi, err := os.Stat(p.path)
	if err == nil && prev.stat != nil && sameFile(fi, prev.stat) {
		next := *prev
		next.checked = now
		p.st.Store(&next)
		return &next
	}
	return p.load(now)
}

// sameFile reports whether a and b describe the same, unchanged file.
func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads the file and stores the result. p.mu is held.
func (p *FileProvider) load(now time.Time) *fileState {
	next := &fileState{checked: now}
	key, fi, err := p.read()
	switch {
	case err != nil:
		next.err = err // and no stat: the next check reads again
	default:
		next.key = key
		next.stat = fi
		next.info = Info{Source: "file:" + p.path, Version: fi.ModTime().UTC().Format(time.RFC3339Nano), FetchedAt: now}
	}
	p.st.Store(next)
	return next
}

// read opens the file once, so that stat and content belong together.
func (p *FileProvider) read() (Secret, fs.FileInfo, error) {
	f, err := os.Open(p.path)
	if err != nil {
		return Secret{}, nil, p.fail(reasonOf(err), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Secret{}, nil, p.fail(ReasonUnavailable, err)
	}
	if !fi.Mode().IsRegular() {
		return Secret{}, nil, &FetchError{Provider: "file", Ref: p.path, Reason: ReasonMalformed, Detail: "not a regular file"}
	}
	buf := make([]byte, maxFileSize+1)
	n, err := io.ReadFull(f, buf)
	defer clear(buf)
	switch {
	case err == nil:
		return Secret{}, nil, &FetchError{Provider: "file", Ref: p.path, Reason: ReasonInvalidKey,
			Err: fmt.Errorf("%w: file is longer than %d bytes", ErrInvalidKey, maxFileSize)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
	default:
		return Secret{}, nil, p.fail(ReasonUnavailable, err)
	}
	raw := trimNewline(buf[:n])
	if len(raw) == 0 {
		return Secret{}, nil, &FetchError{Provider: "file", Ref: p.path, Reason: ReasonNotFound,
			Err: fmt.Errorf("%w: file is empty", ErrNoKey)}
	}
	if err := validateBytes(raw, ""); err != nil {
		return Secret{}, nil, &FetchError{Provider: "file", Ref: p.path, Reason: ReasonInvalidKey, Err: err}
	}
	return maskBytes(raw), fi, nil
}

// fail returns the FetchError of an I/O error, keeping only its class: an
// *fs.PathError's text repeats the path, which the FetchError has already.
func (p *FileProvider) fail(reason string, err error) error {
	fe := &FetchError{Provider: "file", Ref: p.path, Reason: reason}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		fe.Detail = pe.Op + ": " + safe.Text(pe.Err.Error())
	} else {
		fe.Detail = safe.Text(err.Error())
	}
	if errors.Is(err, fs.ErrNotExist) {
		fe.Err = ErrNoKey
	}
	return fe
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ReasonNotFound
	case errors.Is(err, fs.ErrPermission):
		return ReasonDenied
	}
	return ReasonUnavailable
}

// Invalidate reads the file at once, after the key rejected was refused
// upstream. It returns nil if the file now holds a different valid key,
// which the next Key call returns, and an error wrapping [ErrCannotRefresh]
// if it still holds rejected or cannot be read. It ignores ctx.
func (p *FileProvider) Invalidate(ctx context.Context, scope Scope, rejected Secret) error {
	if p == nil || p.path == "" {
		return fmt.Errorf("%w: %w", ErrCannotRefresh, errUnusableFile)
	}
	p.mu.Lock()
	st := p.load(time.Now())
	p.mu.Unlock()
	switch {
	case st.err != nil:
		return fmt.Errorf("%w: %w", ErrCannotRefresh, st.err)
	case st.key.Equal(rejected):
		return fmt.Errorf("%w: file %s still holds the rejected key", ErrCannotRefresh, p.path)
	}
	return nil
}

// String returns "keyprovider.File(<path>)".
func (p *FileProvider) String() string {
	if p == nil {
		return "keyprovider.File()"
	}
	return "keyprovider.File(" + p.path + ")"
}

// GoString returns the same as [FileProvider.String].
func (p *FileProvider) GoString() string { return p.String() }
