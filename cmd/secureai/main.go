// Command secureai is the command-line companion of the secureai library.
//
// Usage:
//
//	secureai <command> [arguments]
//
// The commands are:
//
//	scan           scan texts or JSONL for secrets, personal data, invisible
//	               Unicode, prompt injection and deny rules; JSONL out
//	audit verify   check a hash-chained audit trail written by audit.FileSink
//
// Run "secureai <command> -h" for a command's flags.
//
// Exit status: 0 when the command succeeded (for scan: nothing to block;
// for audit verify: the chain verified), 1 when it found a problem (an
// input to block; a chain tampered with), 2 for bad usage or input that
// cannot be read.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Exit statuses.
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: its run function gets the arguments after the
// command's name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands, in the order of the usage text.
func commands() []command {
	return []command{
		{"scan", "scan texts for secrets, PII, injection (JSONL out)", runScan},
		{"audit", "audit trail tools: verify", runAudit},
	}
}

// run is the program, apart from the process: it takes the arguments after
// the program name and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "secureai: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: secureai <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}
