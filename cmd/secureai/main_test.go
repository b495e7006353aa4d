package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const sealKey = "cli-test-seal-key-0123456789abcdef"

// writeChain writes a closed chain of n events that rotated, and a key
// file, and returns the directory of the chain, its files and the key
// file.
func writeChain(t *testing.T, n int) (dir string, files []string, keyFile string) {
	t.Helper()
	dir = t.TempDir()
	s, err := audit.NewFileSink(t.Context(), audit.FileOptions{Dir: dir, MaxSize: 1500, SealKey: keyprovider.NewSecret(sealKey)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Write(t.Context(), audit.Event{RequestID: "r" + string(rune('a'+i)), Outcome: audit.OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	files, _ = filepath.Glob(filepath.Join(dir, "*.jsonl"))
	slices.Sort(files)
	keyFile = filepath.Join(t.TempDir(), "seal.key")
	if err := os.WriteFile(keyFile, []byte(sealKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, files, keyFile
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestAuditVerify(t *testing.T) {
	dir, files, keyFile := writeChain(t, 8)
	if len(files) < 3 {
		t.Fatalf("want a rotated chain, got %d files", len(files))
	}
	t.Setenv("TEST_SEAL_KEY", sealKey)
	t.Setenv("TEST_EMPTY", "")

	// A tampered copy: the third file loses its second line.
	bad := t.TempDir()
	var badFiles []string
	for i, f := range files {
		b, _ := os.ReadFile(f)
		if i == 2 {
			lines := strings.SplitAfter(string(b), "\n")
			b = []byte(strings.Join(append(lines[:1], lines[2:]...), ""))
		}
		p := filepath.Join(bad, filepath.Base(f))
		os.WriteFile(p, b, 0o600)
		badFiles = append(badFiles, p)
	}

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring
		stderr     string // substring
		noStdout   bool
		stdoutFull bool
	}{
		{name: "files", args: append([]string{"audit", "verify", "-seal-key-file", keyFile}, files...), code: 0, stdout: "ok: 8 records in "},
		{name: "directory", args: []string{"audit", "verify", "-seal-key-file", keyFile, dir}, code: 0, stdout: ", seq 1 to "},
		{name: "key from env", args: []string{"audit", "verify", "-seal-key-env", "TEST_SEAL_KEY", dir}, code: 0, stdout: "sealed"},
		{name: "skip seals", args: []string{"audit", "verify", "-skip-seals", dir}, code: 0, stdout: "ok:"},
		{name: "tampered", args: append([]string{"audit", "verify", "-seal-key-file", keyFile}, badFiles...), code: 1,
			stdout: "TAMPERED: " + badFiles[2] + ":2 (seq "},
		{name: "tampered dir", args: []string{"audit", "verify", "-seal-key-env", "TEST_SEAL_KEY", bad}, code: 1, stdout: ": removed: "},
		{name: "wrong key", args: []string{"audit", "verify", "-seal-key-env", "PATH", dir}, code: 1, stdout: ": seal: "},
		{name: "truncated chain", args: append([]string{"audit", "verify", "-seal-key-file", keyFile}, files[:2]...), code: 1, stdout: ": truncated: "},
		{name: "live", args: append([]string{"audit", "verify", "-live", "-seal-key-file", keyFile}, files[:2]...), code: 0, stdout: "ok:"},
		{name: "no key", args: []string{"audit", "verify", dir}, code: 2, stderr: "no seal key"},
		{name: "both keys", args: []string{"audit", "verify", "-seal-key-file", keyFile, "-seal-key-env", "TEST_SEAL_KEY", dir}, code: 2, stderr: "not both"},
		{name: "unset env", args: []string{"audit", "verify", "-seal-key-env", "TEST_NOT_SET_ANYWHERE", dir}, code: 2, stderr: "not set"},
		{name: "empty env", args: []string{"audit", "verify", "-seal-key-env", "TEST_EMPTY", dir}, code: 2, stderr: "not set"},
		{name: "missing key file", args: []string{"audit", "verify", "-seal-key-file", filepath.Join(dir, "nope"), dir}, code: 2, stderr: "seal key:"},
		{name: "missing file", args: []string{"audit", "verify", "-seal-key-file", keyFile, filepath.Join(dir, "nope.jsonl")}, code: 2, stderr: "no such file"},
		{name: "empty dir", args: []string{"audit", "verify", "-seal-key-file", keyFile, t.TempDir()}, code: 2, stderr: "no .jsonl files"},
		{name: "no files", args: []string{"audit", "verify", "-seal-key-file", keyFile}, code: 2, stderr: "no files"},
		{name: "bad flag", args: []string{"audit", "verify", "-nope", dir}, code: 2, stderr: "flag provided but not defined"},
		{name: "bad encryption key", args: []string{"audit", "verify", "-seal-key-file", keyFile, "-enc-key-env", "TEST_SEAL_KEY", dir}, code: 2, stderr: "encryption key must be"},
		{name: "verify help", args: []string{"audit", "verify", "-h"}, code: 0, stderr: "Exit status: 0 verified, 1 tampered"},
		{name: "audit without verify", args: []string{"audit"}, code: 2, stderr: "usage: secureai audit verify"},
		{name: "no command", args: nil, code: 2, stderr: "usage: secureai <command>"},
		{name: "help", args: []string{"help"}, code: 0, stdout: "audit    audit trail tools"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, sealKey) {
				t.Error("output holds the seal key")
			}
		})
	}
}
