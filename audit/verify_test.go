package audit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
)

// chain is a chain's files as lines, to tamper with.
type chain struct {
	names []string   // base names
	lines [][]string // per file, without newlines
}

func loadChain(t *testing.T, dir string) *chain {
	t.Helper()
	c := &chain{}
	for _, p := range files(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c.names = append(c.names, filepath.Base(p))
		c.lines = append(c.lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"))
	}
	return c
}

func (c *chain) clone() *chain {
	d := &chain{names: append([]string(nil), c.names...)}
	for _, l := range c.lines {
		d.lines = append(d.lines, append([]string(nil), l...))
	}
	return d
}

// save writes the chain to a new directory and returns its files' paths.
func (c *chain) save(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, n := range c.names {
		p := filepath.Join(dir, n)
		data := strings.Join(c.lines[i], "\n")
		if len(c.lines[i]) > 0 {
			data += "\n"
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// rehash rewrites chain.prev of every record from file f, line l (0-based)
// on, as someone without the seal key would to hide a change.
func (c *chain) rehash(f, l int) {
	var prev [32]byte
	if l > 0 {
		prev = sha256.Sum256([]byte(c.lines[f][l-1]))
	} else {
		prev = sha256.Sum256([]byte(c.lines[f-1][len(c.lines[f-1])-1]))
	}
	for ; f < len(c.lines); f, l = f+1, 0 {
		for ; l < len(c.lines[f]); l++ {
			line := c.lines[f][l]
			i := strings.Index(line, `"chain.prev":"`) + len(`"chain.prev":"`)
			line = line[:i] + hex.EncodeToString(prev[:]) + line[i+64:]
			c.lines[f][l] = line
			prev = sha256.Sum256([]byte(line))
		}
	}
}

func seqOf(line string) string {
	_, rest, _ := strings.Cut(line, `{"chain.seq":`)
	n, _, _ := strings.Cut(rest, ",")
	return n
}

// TestTamper is the tamper test: each change to a closed chain
// that rotated is reported, naming the first bad record.
func TestTamper(t *testing.T) {
	for _, enc := range []bool{false, true} {
		opts := audit.FileOptions{MaxSize: 1700}
		vopts := audit.VerifyOptions{}
		if enc {
			opts.EncryptionKey, vopts.EncryptionKey = testEncKey, testEncKey
			opts.MaxSize = 2300
		}
		orig := loadChain(t, writeChain(t, 12, opts))
		if len(orig.names) < 4 || len(orig.lines[1]) < 4 {
			t.Fatalf("chain of %d files (%d lines in the second): want at least 4 files with 2 events", len(orig.names), len(orig.lines[1]))
		}
		last := len(orig.names) - 1
		// edit changes an event record's content, keeping its form.
		edit := func(l string) string {
			if enc {
				i := strings.Index(l, `"chain.data":"`) + len(`"chain.data":"`) + 5
				return l[:i] + string(rune('A'+(l[i]-'A'+1)%26)) + l[i+1:]
			}
			return strings.Replace(l, `"gen_ai.usage.input_tokens":0`, `"gen_ai.usage.input_tokens":1`, 1)
		}
		tests := []struct {
			name   string
			tamper func(c *chain)
			kind   audit.FaultKind
			file   int // index of the file named
			line   int // 1-based line named
		}{
			{name: "untouched"},
			{
				name:   "edit a record",
				tamper: func(c *chain) { c.lines[1][2] = edit(c.lines[1][2]) },
				kind:   audit.FaultChanged, file: 1, line: 3,
			},
			{
				name:   "edit the last record before a seal",
				tamper: func(c *chain) { n := len(c.lines[1]); c.lines[1][n-2] = edit(c.lines[1][n-2]) },
				kind:   audit.FaultChanged, file: 1, line: len(orig.lines[1]) - 1,
			},
			{
				name:   "break a record's form",
				tamper: func(c *chain) { c.lines[1][2] = strings.Replace(c.lines[1][2], `"chain.seq"`, ` "chain.seq"`, 1) },
				kind:   audit.FaultMalformed, file: 1, line: 3,
			},
			{
				// Without the seal key, a forger who rewrites the hashes
				// after a change is caught by the file's seal.
				name:   "forge: edit a record and rehash the chain",
				tamper: func(c *chain) { c.lines[1][2] += " "; c.rehash(1, 3) },
				kind:   audit.FaultSeal, file: 1, line: len(orig.lines[1]),
			},
			{
				// Encrypted records bind their place in the chain: the
				// next one no longer decrypts.
				name:   "forge encrypted: edit a record and rehash the chain",
				tamper: func(c *chain) { c.lines[1][2] += " "; c.rehash(1, 3) },
				kind:   audit.FaultChanged, file: 1, line: 4,
			},
			{
				name:   "forge: delete a record and rehash the chain",
				tamper: func(c *chain) { c.lines[1] = append(c.lines[1][:2], c.lines[1][3:]...); c.rehash(1, 2) },
				kind:   audit.FaultRemoved, file: 1, line: 3,
			},
			{
				name:   "delete a record",
				tamper: func(c *chain) { c.lines[1] = append(c.lines[1][:2], c.lines[1][3:]...) },
				kind:   audit.FaultRemoved, file: 1, line: 3,
			},
			{
				name:   "reorder two records",
				tamper: func(c *chain) { c.lines[1][1], c.lines[1][2] = c.lines[1][2], c.lines[1][1] },
				kind:   audit.FaultReordered, file: 1, line: 2,
			},
			{
				name:   "duplicate a record",
				tamper: func(c *chain) { c.lines[1] = append(c.lines[1][:3], c.lines[1][2:]...) },
				kind:   audit.FaultReordered, file: 1, line: 4,
			},
			{
				name:   "truncate the end",
				tamper: func(c *chain) { c.lines[last] = c.lines[last][:len(c.lines[last])-2] },
				kind:   audit.FaultTruncated, file: last, line: len(orig.lines[last]) - 2,
			},
			{
				name:   "truncate the seal of a rotated file",
				tamper: func(c *chain) { c.lines[1] = c.lines[1][:len(c.lines[1])-1] },
				kind:   audit.FaultTruncated, file: 1, line: len(orig.lines[1]) - 1,
			},
			{
				name:   "delete the first record after a rotation",
				tamper: func(c *chain) { c.lines[2] = append(c.lines[2][:1], c.lines[2][2:]...) },
				kind:   audit.FaultRemoved, file: 2, line: 2,
			},
			{
				name:   "delete the last record before a rotation",
				tamper: func(c *chain) { n := len(c.lines[1]); c.lines[1] = append(c.lines[1][:n-2], c.lines[1][n-1]) },
				kind:   audit.FaultRemoved, file: 1, line: len(orig.lines[1]) - 1,
			},
			{
				name: "delete a file",
				tamper: func(c *chain) {
					c.names = append(c.names[:1], c.names[2:]...)
					c.lines = append(c.lines[:1], c.lines[2:]...)
				},
				kind: audit.FaultRemoved, file: 1, line: 1,
			},
			{
				name:   "delete the last file",
				tamper: func(c *chain) { c.names = c.names[:last]; c.lines = c.lines[:last] },
				kind:   audit.FaultTruncated, file: last - 1, line: len(orig.lines[last-1]),
			},
			{
				name: "change a seal",
				tamper: func(c *chain) {
					c.lines[1][len(c.lines[1])-1] = strings.Replace(c.lines[1][len(c.lines[1])-1], `"chain.reason":"rotate"`, `"chain.reason":"close"`, 1)
					c.rehash(2, 0)
				},
				kind: audit.FaultSeal, file: 1, line: len(orig.lines[1]),
			},
			{
				name:   "append after a seal",
				tamper: func(c *chain) { c.lines[1] = append(c.lines[1], c.lines[1][1]) },
				kind:   audit.FaultAdded, file: 1, line: len(orig.lines[1]) + 1,
			},
			{
				name:   "empty a file",
				tamper: func(c *chain) { c.lines[2] = nil },
				kind:   audit.FaultTruncated, file: 2, line: 0,
			},
		}
		for _, tt := range tests {
			if strings.HasPrefix(tt.name, "forge") && strings.HasPrefix(tt.name, "forge encrypted") != enc {
				continue
			}
			t.Run(map[bool]string{false: "plain/", true: "encrypted/"}[enc]+tt.name, func(t *testing.T) {
				c := orig.clone()
				if tt.tamper != nil {
					tt.tamper(c)
				}
				paths := c.save(t)
				r := verify(t, vopts, paths...)
				if tt.kind == "" {
					if !r.OK() || !r.Sealed || r.Records != 12 {
						t.Fatalf("untouched chain: %+v %v", r, r.Fault)
					}
					return
				}
				if r.OK() {
					t.Fatalf("not detected: %+v", r)
				}
				f := r.Fault
				if f.Kind != tt.kind || f.File != paths[tt.file] || f.Line != tt.line {
					t.Errorf("fault %v\nwant %s at %s:%d", f, tt.kind, filepath.Base(paths[tt.file]), tt.line)
				}
				if tt.line > 0 && tt.line <= len(c.lines[tt.file]) {
					if want := seqOf(c.lines[tt.file][tt.line-1]); want != "" && f.Seq != 0 && want != itoa(f.Seq) {
						t.Errorf("fault names seq %d, the line holds seq %s", f.Seq, want)
					}
				}
				t.Log(f)
			})
		}
	}
}

func itoa(u uint64) string { return strconv.FormatUint(u, 10) }

func TestVerifyKeys(t *testing.T) {
	names := files(t, writeChain(t, 4, audit.FileOptions{EncryptionKey: testEncKey}))
	r := verify(t, audit.VerifyOptions{SealKey: keyprovider.NewSecret("another-seal-key-0123456789")}, names...)
	if r.OK() || r.Fault.Kind != audit.FaultSeal || r.Fault.Line != 1 {
		t.Errorf("wrong seal key: %+v %v", r, r.Fault)
	}
	other := keyprovider.NewSecret(strings.Repeat("ab", 32))
	r = verify(t, audit.VerifyOptions{EncryptionKey: other}, names...)
	if r.OK() || r.Fault.Kind != audit.FaultChanged || r.Fault.Line != 2 {
		t.Errorf("wrong encryption key: %+v %v", r, r.Fault)
	}
	for _, opts := range []audit.VerifyOptions{{}, {SealKey: keyprovider.NewSecret("short")}, {SkipSeals: true, EncryptionKey: keyprovider.NewSecret("x")}} {
		if _, err := audit.Verify(t.Context(), opts, names...); err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
			t.Errorf("Verify(%+v) = %v, want an error", opts, err)
		}
	}
	if _, err := audit.Verify(t.Context(), audit.VerifyOptions{SkipSeals: true}); err == nil {
		t.Error("Verify of no files: no error")
	}
	if _, err := audit.Verify(t.Context(), audit.VerifyOptions{SkipSeals: true}, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Verify of a missing file: no error")
	}
}

// FuzzVerify checks that Verify never panics and never fails with an error
// (rather than a fault) on any file content.
func FuzzVerify(f *testing.F) {
	dir := writeChain(f, 3, audit.FileOptions{MaxSize: -1})
	valid := readAll(f, files(f, dir))
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"chain.seq":1,"chain.prev":"` + strings.Repeat("0", 64) + `","chain.type":"seal"` + "\n"))
	f.Add([]byte(`{"chain.seq":01,"chain.prev":"` + strings.Repeat("g", 64) + "\"}\n\n"))
	f.Add([]byte(`{"chain.seq":99999999999999999999999,"chain.prev":"`))
	encDir := writeChain(f, 2, audit.FileOptions{MaxSize: -1, EncryptionKey: testEncKey})
	f.Add(readAll(f, files(f, encDir)))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"a.jsonl": {Data: data}, "b.jsonl": {Data: valid}}
		for _, opts := range []audit.VerifyOptions{
			{SealKey: testSealKey, FS: fsys},
			{SkipSeals: true, Live: true, EncryptionKey: testEncKey, FS: fsys},
		} {
			r, err := audit.Verify(t.Context(), opts, "a.jsonl", "b.jsonl")
			if err != nil {
				t.Fatalf("error %v on content %q", err, data)
			}
			if r.Fault != nil && r.Fault.String() == "" {
				t.Fatal("empty fault")
			}
		}
	})
}
