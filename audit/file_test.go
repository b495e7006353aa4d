package audit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
)

var (
	testSealKey = keyprovider.NewSecret("seal-key-0123456789abcdef-SEAL-CANARY")
	testEncKey  = keyprovider.NewSecret("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFileSink(t testing.TB, opts audit.FileOptions) *audit.FileSink {
	t.Helper()
	if opts.SealKey.IsZero() {
		opts.SealKey = testSealKey
	}
	s, err := audit.NewFileSink(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// files lists the chain files in dir, in order.
func files(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func verify(t testing.TB, opts audit.VerifyOptions, names ...string) audit.Report {
	t.Helper()
	if opts.SealKey.IsZero() && !opts.SkipSeals {
		opts.SealKey = testSealKey
	}
	r, err := audit.Verify(t.Context(), opts, names...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeChain writes n numbered events to a new chain in a temporary
// directory that rotates every few records, closes it, and returns the
// directory.
func writeChain(t testing.TB, n int, opts audit.FileOptions) string {
	t.Helper()
	opts.Dir = t.TempDir()
	if opts.MaxSize == 0 {
		opts.MaxSize = 2000 // about three events a file
	}
	s := newFileSink(t, opts)
	for i := range n {
		if err := s.Write(t.Context(), numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return opts.Dir
}

func TestFileSinkChainVerifies(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", enc), func(t *testing.T) {
			opts := audit.FileOptions{}
			if enc {
				opts.EncryptionKey = testEncKey
				opts.MaxSize = 2500
			}
			dir := writeChain(t, 20, opts)
			names := files(t, dir)
			if len(names) < 3 {
				t.Fatalf("%d files, want rotations", len(names))
			}
			vo := audit.VerifyOptions{}
			if enc {
				vo.EncryptionKey = testEncKey
			}
			r := verify(t, vo, names...)
			if !r.OK() || !r.Sealed || r.Records != 20 || r.Files != len(names) || r.FirstSeq != 1 || len(r.Warnings) != 0 {
				t.Errorf("report %+v fault %v", r, r.Fault)
			}
			// Anyone can check the chain without the keys.
			if r := verify(t, audit.VerifyOptions{SkipSeals: true}, names...); !r.OK() {
				t.Errorf("without keys: %v", r.Fault)
			}
			all := readAll(t, names)
			if enc == bytes.Contains(all, []byte(`"request_id":"7"`)) {
				t.Errorf("encrypted=%v, but the event fields are visible=%v", enc, !enc)
			}
		})
	}
}

func readAll(t testing.TB, names []string) []byte {
	t.Helper()
	var all []byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// TestFileSinkRecordFormat checks that an event record is the event's JSON
// with the chain keys in front, and that every line is JSON.
func TestFileSinkRecordFormat(t *testing.T) {
	dir := writeChain(t, 1, audit.FileOptions{MaxSize: -1})
	names := files(t, dir)
	lines := strings.Split(strings.TrimSuffix(string(readAll(t, names)), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want open, event, seal:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %s", l)
		}
	}
	var rec map[string]any
	json.Unmarshal([]byte(lines[1]), &rec)
	var ev audit.Event
	if err := json.Unmarshal([]byte(lines[1]), &ev); err != nil || ev.RequestID != "0" || rec["chain.seq"] != 2.0 || rec["schema"] != audit.SchemaVersion {
		t.Errorf("event record %s: %v", lines[1], err)
	}
	if !strings.Contains(lines[0], `"chain.type":"open"`) || !strings.Contains(lines[2], `"chain.type":"seal","schema":"secureai.audit/v1"`) ||
		!strings.Contains(lines[2], `"chain.reason":"close","chain.records":1,"chain.mac":"`) {
		t.Errorf("control records:\n%s\n%s", lines[0], lines[2])
	}
}

func TestFileSinkBatchMatchesWrites(t *testing.T) {
	c := newClock()
	one := t.TempDir()
	s := newFileSink(t, audit.FileOptions{Dir: one, MaxSize: 2000, Now: c.Now})
	events := make([]audit.Event, 10)
	for i := range events {
		events[i] = numbered(i)
		s.Write(t.Context(), events[i])
	}
	s.Close(t.Context())
	batch := t.TempDir()
	s = newFileSink(t, audit.FileOptions{Dir: batch, MaxSize: 2000, Now: c.Now})
	if err := s.WriteBatch(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	s.Close(t.Context())
	a, b := files(t, one), files(t, batch)
	if len(a) != len(b) {
		t.Fatalf("%d files from writes, %d from a batch", len(a), len(b))
	}
	for i := range a {
		// Seals and opens differ in their MAC only if their bytes differ.
		if x, y := readAll(t, a[i:i+1]), readAll(t, b[i:i+1]); !bytes.Equal(x, y) {
			t.Errorf("file %d differs:\n%s\n%s", i, x, y)
		}
	}
	if r := verify(t, audit.VerifyOptions{}, b...); !r.OK() || r.Records != 10 {
		t.Errorf("batch chain: %+v %v", r, r.Fault)
	}
}

func TestFileSinkRotateByAge(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := newFileSink(t, audit.FileOptions{Dir: dir, MaxAge: time.Hour, MaxSize: -1, Now: c.Now})
	s.Write(t.Context(), numbered(0))
	c.Advance(30 * time.Minute)
	s.Write(t.Context(), numbered(1))
	c.Advance(31 * time.Minute)
	s.Write(t.Context(), numbered(2)) // the file is 61 minutes old
	s.Close(t.Context())
	names := files(t, dir)
	if len(names) != 2 {
		t.Fatalf("files %v, want 2", names)
	}
	if !strings.Contains(names[1], "-00000000000000000005-20260301T130100Z.jsonl") {
		t.Errorf("second file %s", names[1])
	}
	if r := verify(t, audit.VerifyOptions{}, names...); !r.OK() || r.Records != 3 {
		t.Errorf("%+v %v", r, r.Fault)
	}
}

func TestFileSinkRetention(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := newFileSink(t, audit.FileOptions{Dir: dir, Now: c.Now})
	s.Write(t.Context(), numbered(0))
	s.Close(t.Context())
	old := files(t, dir)[0]
	other := filepath.Join(dir, "notes.txt")
	os.WriteFile(other, []byte("x\n"), 0o600)
	for _, p := range []string{old, other} {
		os.Chtimes(p, c.Now().Add(-91*24*time.Hour), c.Now().Add(-91*24*time.Hour))
	}

	s = newFileSink(t, audit.FileOptions{Dir: dir, MaxSize: 1500, Now: c.Now})
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("a file past retention survived opening: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file not of the chain was touched: %v", err)
	}
	first := files(t, dir)[0]
	s.Write(t.Context(), numbered(0))
	c.Advance(25 * time.Hour)
	s.Write(t.Context(), numbered(1)) // rotates by age: first is sealed
	os.Chtimes(first, c.Now(), c.Now())
	c.Advance(91 * 24 * time.Hour)
	for i := range 3 {
		s.Write(t.Context(), numbered(i)) // rotations prune
	}
	s.Close(t.Context())
	names := files(t, dir)
	if slices.Contains(names, first) {
		t.Errorf("first file %s not pruned on rotation: %v", first, names)
	}
	r := verify(t, audit.VerifyOptions{}, names...)
	if !r.OK() || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "removed by retention") {
		t.Errorf("after retention: %+v %v", r, r.Fault)
	}
}

// TestFileSinkResume: a sink opened on an existing chain goes on with it.
func TestFileSinkResume(t *testing.T) {
	dir := t.TempDir()
	for run := range 3 {
		s := newFileSink(t, audit.FileOptions{Dir: dir})
		for i := range 4 {
			s.Write(t.Context(), numbered(run*10+i))
		}
		s.Close(t.Context())
	}
	names := files(t, dir)
	if r := verify(t, audit.VerifyOptions{}, names...); !r.OK() || r.Records != 12 || len(names) != 3 {
		t.Errorf("%d files: %+v %v", len(names), r, r.Fault)
	}
}

// TestFileSinkRecover: a chain left unsealed by a crash, with a partly
// written last line, is repaired and sealed when opened again.
func TestFileSinkRecover(t *testing.T) {
	dir := t.TempDir()
	s := newFileSink(t, audit.FileOptions{Dir: dir})
	for i := range 3 {
		s.Write(t.Context(), numbered(i))
	}
	s.Flush(t.Context())
	crashed := t.TempDir()
	name := filepath.Base(files(t, dir)[0])
	data := readAll(t, files(t, dir))
	os.WriteFile(filepath.Join(crashed, name), append(data, `{"chain.seq":5,"chain.pr`...), 0o600)
	s.Close(t.Context())

	if r := verify(t, audit.VerifyOptions{}, files(t, crashed)...); r.OK() || r.Fault.Kind != audit.FaultTruncated {
		t.Fatalf("crashed chain: %+v", r)
	}
	if r := verify(t, audit.VerifyOptions{Live: true}, files(t, crashed)...); r.OK() {
		t.Fatalf("crashed chain with a partial line verified live")
	}
	s = newFileSink(t, audit.FileOptions{Dir: crashed})
	s.Write(t.Context(), numbered(3))
	s.Close(t.Context())
	r := verify(t, audit.VerifyOptions{}, files(t, crashed)...)
	if !r.OK() || r.Records != 4 || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "recovery") {
		t.Errorf("recovered chain: %+v %v", r, r.Fault)
	}
}

func TestFileSinkLive(t *testing.T) {
	dir := t.TempDir()
	s := newFileSink(t, audit.FileOptions{Dir: dir, MaxSize: 2000})
	for i := range 7 {
		s.Write(t.Context(), numbered(i))
	}
	s.Flush(t.Context())
	names := files(t, dir)
	if r := verify(t, audit.VerifyOptions{Live: true}, names...); !r.OK() || r.Sealed || r.Records != 7 {
		t.Errorf("live: %+v %v", r, r.Fault)
	}
	if r := verify(t, audit.VerifyOptions{}, names...); r.OK() || r.Fault.Kind != audit.FaultTruncated {
		t.Errorf("live chain verified as closed: %+v", r)
	}
	if r := verify(t, audit.VerifyOptions{Live: true}, names[:len(names)-1]...); !r.OK() {
		t.Errorf("rotated files of a live chain: %v", r.Fault)
	}
	if r := verify(t, audit.VerifyOptions{}, names[:len(names)-1]...); r.OK() || r.Fault.Kind != audit.FaultTruncated {
		t.Errorf("chain without its last file: %+v", r)
	}
	s.Close(t.Context())
	if err := s.Write(t.Context(), numbered(0)); err != audit.ErrClosed {
		t.Errorf("Write after Close = %v", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestNewFileSinkErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts audit.FileOptions
	}{
		{"no dir", audit.FileOptions{SealKey: testSealKey}},
		{"no seal key", audit.FileOptions{Dir: dir}},
		{"short seal key", audit.FileOptions{Dir: dir, SealKey: keyprovider.NewSecret("short")}},
		{"bad encryption key", audit.FileOptions{Dir: dir, SealKey: testSealKey, EncryptionKey: keyprovider.NewSecret("not-32-bytes")}},
		{"bad prefix", audit.FileOptions{Dir: dir, SealKey: testSealKey, Prefix: "../x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := audit.NewFileSink(t.Context(), tc.opts)
			if err == nil || s != nil || !strings.HasPrefix(err.Error(), "audit: ") {
				t.Fatalf("got %v, %v", s, err)
			}
			if strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "not-32-bytes") {
				t.Errorf("error %q holds a key", err)
			}
		})
	}
}

func TestFileSinkEncryptionKeyForms(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, 32)
	for _, k := range []string{
		fmt.Sprintf("%x", raw),
		"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
		"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
	} {
		dir := writeChain(t, 2, audit.FileOptions{EncryptionKey: keyprovider.NewSecret(k)})
		r := verify(t, audit.VerifyOptions{EncryptionKey: keyprovider.NewSecret(fmt.Sprintf("%x", raw))}, files(t, dir)...)
		if !r.OK() {
			t.Errorf("key form %q: %v", k, r.Fault)
		}
	}
}

func TestFileSinkZeroValue(t *testing.T) {
	var s audit.FileSink
	if err := s.Write(t.Context(), numbered(0)); err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Errorf("zero FileSink Write = %v", err)
	}
}
