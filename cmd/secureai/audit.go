package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
)

// runAudit dispatches the audit subcommands.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "help") {
			fmt.Fprintln(stdout, "usage: secureai audit verify [flags] FILE|DIR...")
			return exitOK
		}
		fmt.Fprintln(stderr, "usage: secureai audit verify [flags] FILE|DIR...")
		return exitUsage
	}
	return runVerify(ctx, args[1:], stdout, stderr)
}

// runVerify is "secureai audit verify".
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secureai audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		sealFile = fs.String("seal-key-file", "", "read the seal `key` from this file (a trailing newline is ignored)")
		sealEnv  = fs.String("seal-key-env", "", "read the seal key from the environment variable `NAME`")
		encFile  = fs.String("enc-key-file", "", "also decrypt each encrypted record with the key in this `file`")
		encEnv   = fs.String("enc-key-env", "", "also decrypt each encrypted record with the key in the environment variable `NAME`")
		skip     = fs.Bool("skip-seals", false, "check the hash chain only, without the seal key: records cut off the end go undetected")
		live     = fs.Bool("live", false, "the last file may still be open for writing (unsealed)")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: secureai audit verify [flags] FILE|DIR...")
		fmt.Fprintln(stderr, "\nVerify checks hash-chained audit files written by audit.FileSink, in chain order;")
		fmt.Fprintln(stderr, "a directory stands for its *.jsonl files. Exit status: 0 verified, 1 tampered, 2 bad usage or input.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "secureai audit verify: no files")
		fs.Usage()
		return exitUsage
	}
	opts := audit.VerifyOptions{SkipSeals: *skip, Live: *live}
	var err error
	if opts.SealKey, err = readKey("seal", *sealFile, *sealEnv); err != nil {
		fmt.Fprintf(stderr, "secureai audit verify: %v\n", err)
		return exitUsage
	}
	if opts.SealKey.IsZero() && !*skip {
		fmt.Fprintln(stderr, "secureai audit verify: no seal key: give -seal-key-file or -seal-key-env, or -skip-seals")
		return exitUsage
	}
	if opts.EncryptionKey, err = readKey("encryption", *encFile, *encEnv); err != nil {
		fmt.Fprintf(stderr, "secureai audit verify: %v\n", err)
		return exitUsage
	}
	files, err := expand(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "secureai audit verify: %v\n", err)
		return exitUsage
	}
	rep, err := audit.Verify(ctx, opts, files...)
	if err != nil {
		fmt.Fprintf(stderr, "secureai audit verify: %v\n", err)
		return exitUsage
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if !rep.OK() {
		fmt.Fprintf(stdout, "TAMPERED: %s\n", rep.Fault)
		return exitProblem
	}
	state := "sealed"
	if !rep.Sealed {
		state = "open (live)"
	}
	fmt.Fprintf(stdout, "ok: %d records in %d files, seq %d to %d, %s\n", rep.Records, rep.Files, rep.FirstSeq, rep.LastSeq, state)
	return exitOK
}

// readKey reads a key from a file or from an environment variable the user
// named; at most one of the two may be given. Neither gives the empty
// Secret.
func readKey(what, file, env string) (keyprovider.Secret, error) {
	switch {
	case file != "" && env != "":
		return keyprovider.Secret{}, fmt.Errorf("give the %s key from a file or from the environment, not both", what)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return keyprovider.Secret{}, fmt.Errorf("%s key: %w", what, err)
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		clear(b)
		if v == "" {
			return keyprovider.Secret{}, fmt.Errorf("%s key file %s is empty", what, file)
		}
		return keyprovider.NewSecret(v), nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return keyprovider.Secret{}, fmt.Errorf("%s key: environment variable %s is not set", what, env)
		}
		return keyprovider.NewSecret(v), nil
	}
	return keyprovider.Secret{}, nil
}

// expand replaces each directory in args by its *.jsonl files, sorted,
// which is chain order for the files of an audit.FileSink.
func expand(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.jsonl"))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: no .jsonl files", a)
		}
		slices.Sort(m)
		files = append(files, m...)
	}
	return files, nil
}
