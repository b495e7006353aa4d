package keyprovider_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secureai-go/secureai/keyprovider"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes content to a temporary file and renames it over path,
// as a careful tool does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileRead(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content *string // nil: no file
		want    string
		reason  string
		wantErr error
	}{
		{"plain", ptr(canary), canary, "", nil},
		{"trailing newline", ptr(canary + "\n"), canary, "", nil},
		{"trailing CRLF", ptr(canary + "\r\n"), canary, "", nil},
		{"two newlines", ptr(canary + "\n\n"), "", keyprovider.ReasonInvalidKey, keyprovider.ErrInvalidKey},
		{"inner newline", ptr("sk-abc\ndef"), "", keyprovider.ReasonInvalidKey, keyprovider.ErrInvalidKey},
		{"leading space", ptr(" " + canary), "", keyprovider.ReasonInvalidKey, keyprovider.ErrInvalidKey},
		{"JSON", ptr(`{"api_key":"` + canary + `"}`), "", keyprovider.ReasonInvalidKey, keyprovider.ErrInvalidKey},
		{"empty", ptr(""), "", keyprovider.ReasonNotFound, keyprovider.ErrNoKey},
		{"just a newline", ptr("\n"), "", keyprovider.ReasonNotFound, keyprovider.ErrNoKey},
		{"too long", ptr(strings.Repeat("k", keyprovider.MaxKeyLen+10)), "", keyprovider.ReasonInvalidKey, keyprovider.ErrInvalidKey},
		{"missing", nil, "", keyprovider.ReasonNotFound, keyprovider.ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if tt.content != nil {
				writeFile(t, path, *tt.content)
			}
			p, err := keyprovider.File(path, keyprovider.FileOptions{})
			if tt.wantErr != nil {
				fe, ok := errors.AsType[*keyprovider.FetchError](err)
				if !errors.Is(err, tt.wantErr) || !ok || fe.Reason != tt.reason || fe.Provider != "file" || fe.Ref != path {
					t.Fatalf("File = %v, %v; want a FetchError %s wrapping %v", p, err, tt.reason, tt.wantErr)
				}
				assertNoLeak(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			k, info, err := p.KeyInfo(t.Context(), prod)
			if err != nil || k.Reveal() != tt.want || info.Source != "file:"+path || info.Version == "" {
				t.Fatalf("KeyInfo = %d bytes, %+v, %v", k.Len(), info, err)
			}
			if got := p.String(); got != "keyprovider.File("+path+")" {
				t.Errorf("String() = %q", got)
			}
		})
	}
	if _, err := keyprovider.File("", keyprovider.FileOptions{}); err == nil {
		t.Error("File(\"\") succeeded")
	}
	if _, err := keyprovider.File(dir, keyprovider.FileOptions{}); err == nil {
		t.Error("File(directory) succeeded")
	}
	var zero keyprovider.FileProvider
	if _, err := zero.Key(t.Context(), prod); err == nil {
		t.Error("zero FileProvider returned a key")
	}
}

func TestFileNoticesChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key")
		writeFile(t, path, "sk-one\n")
		p, err := keyprovider.File(path, keyprovider.FileOptions{CheckInterval: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		mustKey(t, p, "sk-one")
		replaceFile(t, path, "sk-two\n")
		mustKey(t, p, "sk-one") // not checked again yet
		time.Sleep(500 * time.Millisecond)
		mustKey(t, p, "sk-two")

		// A bad file is an error until fixed; no half-read key is served.
		replaceFile(t, path, "sk-three has spaces\n")
		time.Sleep(time.Second)
		if _, err := p.Key(t.Context(), prod); !errors.Is(err, keyprovider.ErrInvalidKey) {
			t.Fatalf("Key with a bad file = %v", err)
		}
		replaceFile(t, path, "sk-four")
		time.Sleep(time.Second)
		mustKey(t, p, "sk-four")

		os.Remove(path)
		time.Sleep(time.Second)
		if _, err := p.Key(t.Context(), prod); !errors.Is(err, keyprovider.ErrNoKey) {
			t.Fatalf("Key with the file gone = %v", err)
		}
	})
}

// TestFileKubernetesSwap mounts a secret the way the kubelet does: the key
// file is a link to ..data/key, ..data a link to a timestamped directory,
// and an update swaps ..data atomically to a new directory.
func TestFileKubernetesSwap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		version := func(name, key string) {
			d := filepath.Join(dir, name)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(d, "openai-key"), key)
			tmp := filepath.Join(dir, "..data_tmp")
			if err := os.Symlink(name, tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
				t.Fatal(err)
			}
		}
		version("..2026_01_01_00_00_00.1", "sk-v1\n")
		if err := os.Symlink("..data/openai-key", filepath.Join(dir, "openai-key")); err != nil {
			t.Fatal(err)
		}
		p, err := keyprovider.File(filepath.Join(dir, "openai-key"), keyprovider.FileOptions{CheckInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		mustKey(t, p, "sk-v1")
		version("..2026_02_01_00_00_00.2", "sk-v2\n") // same size, same name: a new inode
		os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.1"))
		time.Sleep(time.Second)
		mustKey(t, p, "sk-v2")
	})
}

func TestFileInvalidate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	writeFile(t, path, "sk-one")
	p, err := keyprovider.File(path, keyprovider.FileOptions{CheckInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	one := keyprovider.NewSecret("sk-one")
	if err := p.Invalidate(t.Context(), prod, one); !errors.Is(err, keyprovider.ErrCannotRefresh) {
		t.Fatalf("Invalidate of an unchanged file = %v", err)
	}
	replaceFile(t, path, "sk-two")
	mustKey(t, p, "sk-one") // an hour between checks
	if err := p.Invalidate(t.Context(), prod, one); err != nil {
		t.Fatalf("Invalidate after the file changed = %v", err)
	}
	mustKey(t, p, "sk-two")
	replaceFile(t, path, "bad key")
	if err := p.Invalidate(t.Context(), prod, keyprovider.NewSecret("sk-two")); !errors.Is(err, keyprovider.ErrCannotRefresh) || !errors.Is(err, keyprovider.ErrInvalidKey) {
		t.Fatalf("Invalidate with a bad file = %v", err)
	}

	// Through a Cache: a 401 makes the cache re-read the file at once.
	replaceFile(t, path, "sk-three")
	p2, err := keyprovider.File(path, keyprovider.FileOptions{CheckInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := keyprovider.NewCache(p2, keyprovider.CacheOptions{RetryInterval: time.Nanosecond})
	defer c.Close(t.Context())
	mustKey(t, c, "sk-three")
	replaceFile(t, path, "sk-four")
	if err := c.Invalidate(t.Context(), prod, keyprovider.NewSecret("sk-three")); err != nil {
		t.Fatal(err)
	}
	mustKey(t, c, "sk-four")
}
