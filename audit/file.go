package audit

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/secureai-go/secureai/internal/jsonstr"
	"github.com/secureai-go/secureai/keyprovider"
)

// FileOptions configures a [FileSink]. Dir and SealKey are required; every
// other zero field means its documented default.
type FileOptions struct {
	// Dir is the directory of the files. It is created (mode 0700) if
	// missing. A directory must hold one chain: one FileSink at a time.
	Dir string
	// Prefix starts each file name: PREFIX-SEQ-TIME.jsonl, with SEQ the
	// zero-padded sequence number of the file's first record, so that
	// names sort in chain order. Default "audit". It may hold letters,
	// digits, '_' and '.'.
	Prefix string
	// MaxSize is the size in bytes past which the next record goes to a
	// new file. Default 64 MiB; negative: no size limit.
	MaxSize int64
	// MaxAge is how long a file receives records before the next record
	// goes to a new file. Default 24h; negative: no age limit.
	MaxAge time.Duration
	// Retention is how long a file is kept after its last write: on each
	// rotation, and when the sink is opened, older files of the chain are
	// deleted. Default 90 days; negative: files are never deleted.
	Retention time.Duration
	// SealKey is the HMAC-SHA256 key of the open and seal records: at
	// least 16 bytes, best 32 random ones. Required. Keep it apart from the
	// files: whoever holds it can reseal a shortened chain.
	SealKey keyprovider.Secret
	// EncryptionKey, if not empty, encrypts each event record at rest with
	// AES-256-GCM: 32 bytes written as 64 hex digits or in base64. The
	// hash chain covers the ciphertext, so [Verify] checks an encrypted
	// chain without this key. A random 96-bit nonce is drawn per record:
	// rotate the key before 2^32 records.
	EncryptionKey keyprovider.Secret
	// Now returns the current time, for record times, MaxAge and
	// Retention. Default [time.Now].
	Now func() time.Time
}

const (
	defaultMaxSize   = 64 << 20
	defaultMaxAge    = 24 * time.Hour
	defaultRetention = 90 * 24 * time.Hour
	fileExt          = ".jsonl"
)

func (o FileOptions) resolve() (FileOptions, error) {
	if o.Dir == "" {
		return o, errors.New("audit: file sink: no Dir")
	}
	if o.Prefix == "" {
		o.Prefix = "audit"
	}
	for _, r := range o.Prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return o, fmt.Errorf("audit: file sink: prefix %q may hold only letters, digits, '_' and '.'", o.Prefix)
		}
	}
	if o.MaxSize == 0 {
		o.MaxSize = defaultMaxSize
	}
	if o.MaxAge == 0 {
		o.MaxAge = defaultMaxAge
	}
	if o.Retention == 0 {
		o.Retention = defaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// FileSink is a [Sink] that writes a tamper-evident audit trail: JSON lines
// in files that rotate by size and age, where each record carries a
// sequence number and the SHA-256 of the line before it, across files.
//
// Each file begins with an "open" record and ends with a "seal" record,
// both authenticated with an HMAC keyed by FileOptions.SealKey. A seal is
// written on each rotation and on [FileSink.Close]; it covers, through the
// chain, every record before it, so that records cut off the end of a file
// (which leaves a valid-looking chain) are detected by [Verify] as a missing
// seal. The records written since the last seal of the current file are not
// protected that way until it is sealed. Event records can be encrypted at
// rest (FileOptions.EncryptionKey).
//
// Records are written with one write call each (or one per batch through
// [FileSink.WriteBatch]); Flush and Close sync the file to disk. When
// opened on a directory whose last file was not sealed (the process
// crashed), NewFileSink removes a partly written last line, seals the file
// with the reason "recover" (Verify reports it as a warning), and starts a
// new file; the chain goes on.
//
// A FileSink is safe for concurrent use. The zero FileSink is not usable;
// use [NewFileSink].
type FileSink struct {
	opts  FileOptions
	mac   []byte
	aead  cipher.AEAD // nil: records are not encrypted
	keyID string      // fingerprint of the encryption key

	mu      sync.Mutex
	f       *os.File
	name    string
	size    int64
	opened  time.Time
	records int // event records in the current file
	seq     uint64
	prev    [sha256.Size]byte
	buf     []byte
	plain   []byte // scratch for encryption: the event's JSON
	sealed  []byte // scratch for encryption: the ciphertext
	aad     []byte // scratch for encryption: the additional data
	nonce   [12]byte
	closed  bool
}

// NewFileSink opens the chain in opts.Dir, going on from its last file if
// there is one, and starts a new file. It returns an error if Dir or SealKey
// is missing, a key is malformed, or the directory cannot be used.
func NewFileSink(ctx context.Context, opts FileOptions) (*FileSink, error) {
	opts, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	s := &FileSink{opts: opts, buf: make([]byte, 0, 4096)}
	if s.mac, err = sealKeyBytes(opts.SealKey); err != nil {
		return nil, err
	}
	if !opts.EncryptionKey.IsZero() {
		if s.aead, err = newAEAD(opts.EncryptionKey); err != nil {
			return nil, err
		}
		s.keyID = opts.EncryptionKey.Fingerprint()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: file sink: %w", err)
	}
	if err := s.resume(ctx); err != nil {
		return nil, err
	}
	s.prune()
	if err := s.openFile(); err != nil {
		return nil, err
	}
	return s, nil
}

// files returns the names of the chain's files in dir, in chain order.
func chainFiles(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && isChainFile(n, prefix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

func isChainFile(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok || !strings.HasSuffix(rest, fileExt) || len(rest) < 21 || rest[20] != '-' {
		return false
	}
	for _, c := range []byte(rest[:20]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// resume finds where the chain in Dir ends: the last complete record of the
// last file. An unsealed last file is repaired and sealed with "recover".
func (s *FileSink) resume(ctx context.Context) error {
	for {
		names, err := chainFiles(s.opts.Dir, s.opts.Prefix)
		if err != nil {
			return fmt.Errorf("audit: file sink: %w", err)
		}
		if len(names) == 0 {
			return nil
		}
		path := filepath.Join(s.opts.Dir, names[len(names)-1])
		done, err := s.resumeFile(ctx, path)
		if err != nil || done {
			return err
		}
		// The file held no complete record: it was removed; look again.
	}
}

// resumeFile reads the chain's end from path. It reports false, after
// removing the file, if the file holds no complete record.
func (s *FileSink) resumeFile(ctx context.Context, path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("audit: file sink: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("audit: file sink: %w", err)
	}
	complete := bytes.LastIndexByte(data, '\n') + 1
	if complete == 0 {
		if err := os.Remove(path); err != nil {
			return false, fmt.Errorf("audit: file sink: remove empty %s: %w", filepath.Base(path), err)
		}
		return false, nil
	}
	body := data[:complete-1]
	last := body[bytes.LastIndexByte(body, '\n')+1:]
	rec, perr := parseRecord(last)
	if perr != nil {
		return false, fmt.Errorf("audit: file sink: cannot go on from %s: last record: %v; move the file away or verify it", filepath.Base(path), perr)
	}
	s.seq = rec.seq
	s.prev = sha256.Sum256(last)
	if rec.typ == typeSeal {
		return true, nil
	}
	// The process stopped without sealing: cut a partial line, then seal.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false, fmt.Errorf("audit: file sink: %w", err)
	}
	defer f.Close()
	if complete < len(data) {
		if err := f.Truncate(int64(complete)); err != nil {
			return false, fmt.Errorf("audit: file sink: %w", err)
		}
	}
	records := bytes.Count(body, []byte("\n")) // lines but the open record
	line := appendControl(nil, s.mac, s.seq+1, &s.prev, typeSeal, sealRecover, records, s.opts.Now())
	if _, err := f.WriteAt(append(line, '\n'), int64(complete)); err != nil {
		return false, fmt.Errorf("audit: file sink: seal %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("audit: file sink: %w", err)
	}
	s.seq++
	s.prev = sha256.Sum256(line)
	return true, nil
}

// openFile starts a new file with an open record. s.mu is held, or s is
// not yet shared.
func (s *FileSink) openFile() error {
	now := s.opts.Now()
	name := fmt.Sprintf("%s-%020d-%s%s", s.opts.Prefix, s.seq+1, now.UTC().Format("20060102T150405Z"), fileExt)
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("audit: file sink: %w", err)
	}
	line := appendControl(s.buf[:0], s.mac, s.seq+1, &s.prev, typeOpen, "", 0, now)
	line = append(line, '\n')
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("audit: file sink: %w", err)
	}
	s.f, s.name, s.size, s.opened, s.records = f, name, int64(len(line)), now, 0
	s.seq++
	s.prev = sha256.Sum256(line[:len(line)-1])
	return nil
}

// seal writes a seal record to the current file, syncs and closes it.
func (s *FileSink) seal(reason string) error {
	line := appendControl(s.buf[:0], s.mac, s.seq+1, &s.prev, typeSeal, reason, s.records, s.opts.Now())
	line = append(line, '\n')
	_, err := s.f.Write(line)
	if err == nil {
		s.seq++
		s.prev = sha256.Sum256(line[:len(line)-1])
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		return fmt.Errorf("audit: file sink: seal %s: %w", s.name, err)
	}
	return nil
}

// rotate seals the current file, deletes expired files and opens a new one.
func (s *FileSink) rotate() error {
	if err := s.seal(sealRotate); err != nil {
		return err
	}
	s.prune()
	return s.openFile()
}

// prune deletes the chain's files last written before the retention period.
// It keeps the current file and reports no error: a file it cannot delete
// is tried again on the next rotation.
func (s *FileSink) prune() {
	if s.opts.Retention < 0 {
		return
	}
	names, err := chainFiles(s.opts.Dir, s.opts.Prefix)
	if err != nil {
		return
	}
	cutoff := s.opts.Now().Add(-s.opts.Retention)
	for _, n := range names {
		if n == s.name {
			continue
		}
		p := filepath.Join(s.opts.Dir, n)
		if fi, err := os.Stat(p); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(p)
		}
	}
}

// needRotate reports whether the current file, holding records event
// records and pending more bytes than it has, must be sealed before the next
// record. aged reports whether the file reached MaxAge.
func (s *FileSink) needRotate(pending int, records int, aged bool) bool {
	if records == 0 {
		return false
	}
	return aged || s.opts.MaxSize > 0 && s.size+int64(pending) > s.opts.MaxSize
}

// appendEvent appends e as record seq after prev, without the newline, to
// b.
func (s *FileSink) appendEvent(b []byte, e *Event, seq uint64, prev *[sha256.Size]byte) ([]byte, error) {
	b = appendRecordHead(b, seq, prev)
	if s.aead == nil {
		return e.appendJSONBody(append(b, '"', ','), false), nil
	}
	s.aad = encAAD(s.aad[:0], seq, b[len(b)-2*sha256.Size:])
	nonce := s.nonce[:]
	rand.Read(nonce) // never fails since Go 1.24
	s.plain = e.appendJSON(s.plain[:0], false)
	b = append(b, recEnc...)
	b = append(b, encAlgorithm+`","chain.key":`...)
	b = jsonstr.AppendSlog(b, s.keyID)
	b = append(b, `,"chain.nonce":"`...)
	b = base64.StdEncoding.AppendEncode(b, nonce)
	b = append(b, `","chain.data":"`...)
	s.sealed = s.aead.Seal(s.sealed[:0], nonce, s.plain, s.aad)
	b = base64.StdEncoding.AppendEncode(b, s.sealed)
	return append(b, '"', '}'), nil
}

// Write appends e to the chain as one record, first rotating the file if it
// is full or old. It returns an error wrapping the file system's, or
// [ErrClosed] after Close. On a failed write the file is cut back to its
// last complete record, so the chain stays valid. It does not retain e.
func (s *FileSink) Write(_ context.Context, e Event) error {
	return s.WriteBatch(context.Background(), []Event{e})
}

// WriteBatch appends events to the chain with one write call per file
// touched. It is all or nothing per file: on an error, the records of the
// failed write are cut off again. If a rotation could not open the next
// file, the next write tries again. ctx is not observed: a started write is
// finished. It implements [BatchSink].
func (s *FileSink) WriteBatch(_ context.Context, events []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.mac == nil {
		return errors.New("audit: file sink: not opened; use NewFileSink")
	}
	if s.f == nil { // a rotation failed to open the next file: try again
		if err := s.openFile(); err != nil {
			return err
		}
	}
	seq, prev, records := s.seq, s.prev, s.records
	aged := s.opts.MaxAge > 0 && s.opts.Now().Sub(s.opened) >= s.opts.MaxAge
	buf := s.buf[:0]
	for i := range events {
		start := len(buf)
		var err error
		if buf, err = s.appendEvent(buf, &events[i], seq+1, &prev); err != nil {
			return err
		}
		if s.needRotate(len(buf)+1, records, aged) {
			// Write what this file takes, then go on in a new file.
			buf = buf[:start]
			if err := s.commit(buf, seq, prev, records); err != nil {
				return err
			}
			if err := s.rotate(); err != nil {
				return err
			}
			seq, prev, records = s.seq, s.prev, s.records
			aged = false
			buf = s.buf[:0]
			if buf, err = s.appendEvent(buf, &events[i], seq+1, &prev); err != nil {
				return err
			}
			start = 0
		}
		prev = sha256.Sum256(buf[start:])
		buf = append(buf, '\n')
		seq++
		records++
	}
	err := s.commit(buf, seq, prev, records)
	if cap(buf) > 8<<20 { // do not keep a huge batch's buffer
		s.buf = make([]byte, 0, 4096)
	}
	return err
}

// commit writes buf to the current file and, on success, moves the chain's
// end to seq and prev; on failure it cuts the file back.
func (s *FileSink) commit(buf []byte, seq uint64, prev [sha256.Size]byte, records int) error {
	if cap(buf) > cap(s.buf) {
		s.buf = buf[:0]
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := s.f.Write(buf); err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			return fmt.Errorf("audit: file sink: %w (and the file could not be cut back: %v)", err, terr)
		}
		if _, serr := s.f.Seek(s.size, io.SeekStart); serr != nil {
			return fmt.Errorf("audit: file sink: %w", serr)
		}
		return fmt.Errorf("audit: file sink: %w", err)
	}
	s.size += int64(len(buf))
	s.seq, s.prev, s.records = seq, prev, records
	return nil
}

// Flush syncs the current file to disk. It returns [ErrClosed] after Close.
func (s *FileSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.f == nil {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("audit: file sink: %w", err)
	}
	return nil
}

// Close seals the current file with the reason "close", syncs and closes
// it. Later Writes return [ErrClosed]; a second Close returns nil.
func (s *FileSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return nil
	}
	return s.seal(sealClose)
}

// Seq returns the sequence number of the last record written, so a caller
// can note where the chain stood, for example in another system.
func (s *FileSink) Seq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// fileRecord is what parseRecord reads from a line.
type fileRecord struct {
	seq    uint64
	prev   []byte // hex, 64 bytes
	typ    string // "" for an event record, "open", "seal"
	reason string // seal reason
	enc    bool
	rest   []byte // the line after the prev hash's closing quote
}

// parseRecord reads the head of a record line strictly: the format is the
// one FileSink writes, byte for byte.
func parseRecord(line []byte) (fileRecord, error) {
	var r fileRecord
	rest, ok := bytes.CutPrefix(line, []byte(recPrefixSeq))
	if !ok {
		return r, errors.New("does not begin with the chain.seq key")
	}
	i := 0
	for i < len(rest) && i < 20 && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	seq, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	if err != nil || (i > 1 && rest[0] == '0') {
		return r, errors.New("bad chain.seq")
	}
	r.seq = seq
	rest, ok = bytes.CutPrefix(rest[i:], []byte(recPrefixPrev))
	if !ok || len(rest) < 2*sha256.Size+1 {
		return r, errors.New("bad chain.prev")
	}
	r.prev = rest[:2*sha256.Size]
	for _, c := range r.prev {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return r, errors.New("bad chain.prev")
		}
	}
	rest = rest[2*sha256.Size:]
	switch {
	case bytes.HasPrefix(rest, []byte(recType)):
		t := rest[len(recType):]
		switch {
		case bytes.HasPrefix(t, []byte(typeOpen+`"`)):
			r.typ = typeOpen
		case bytes.HasPrefix(t, []byte(typeSeal+`"`)):
			r.typ = typeSeal
		default:
			return r, errors.New("unknown chain.type")
		}
	case bytes.HasPrefix(rest, []byte(recEnc)):
		r.enc = true
	case bytes.HasPrefix(rest, []byte(`",`)):
	default:
		return r, errors.New("bad record after chain.prev")
	}
	r.rest = rest[1:]
	if r.typ == typeSeal {
		if _, after, ok := bytes.Cut(rest, []byte(`,"chain.reason":"`)); ok {
			if v, _, ok := bytes.Cut(after, []byte(`"`)); ok {
				r.reason = string(v)
			}
		}
	}
	return r, nil
}
