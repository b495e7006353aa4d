package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/secureai-go/secureai/sanitize"
)

// scanUsage is the help text of "secureai scan".
const scanUsage = `usage: secureai scan [flags] [FILE...]

Scans texts for secrets, personal data, invisible Unicode, prompt injection
and deny rules, and writes one JSON line per input:

  {"id": ..., "decision": "allow|redact|block", "injection_score": 0..1,
   "findings": [{"kind": "secret|pii|injection|invisible|deny",
                 "type": "aws_access_key_id", "start": 10, "end": 30}]}

A FILE ending in .jsonl (or any FILE with -jsonl) holds one JSON object a
line with "id" and "text" (other fields are ignored); any other FILE is one
text whose id is its name. No FILE, or "-", reads standard input (as JSONL
with -jsonl, else as one text with id "-"). Offsets are bytes of the text.

Exit status: 0 when every input is allowed or only needs redaction, 1 when
any is blocked, 2 on bad usage or input (a line that is not a JSON object
with a string "text", a text that is not UTF-8).

Flags:
`

// scanPolicy is what the flags of "secureai scan" decide.
type scanPolicy struct {
	redact    sanitize.Policy
	unicode   sanitize.UnicodePolicy
	injection *sanitize.InjectionDetector
	deny      *sanitize.DenyList
	scanner   sanitize.Scanner
}

// scanResult is one output line.
type scanResult struct {
	ID             json.RawMessage `json:"id"`
	Decision       string          `json:"decision"`
	InjectionScore float64         `json:"injection_score"`
	Findings       []scanFinding   `json:"findings"`
}

type scanFinding struct {
	Kind  sanitize.Kind `json:"kind"`
	Type  string        `json:"type"`
	Start int           `json:"start"`
	End   int           `json:"end"`
}

// errBadInput marks input that "secureai scan" cannot read (exit 2).
var errBadInput = errors.New("bad input")

func parseAction(name string) (sanitize.Action, error) {
	switch name {
	case "allow":
		return sanitize.Allow, nil
	case "redact":
		return sanitize.Redact, nil
	case "block":
		return sanitize.Block, nil
	}
	return 0, fmt.Errorf("action %q (want allow, redact or block)", name)
}

// runScan is "secureai scan".
func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secureai scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), scanUsage)
		fs.PrintDefaults()
	}
	var (
		jsonl     = fs.Bool("jsonl", false, "read every input as JSON lines")
		secrets   = fs.String("secrets", "block", "`action` for secrets: allow, redact or block")
		pii       = fs.String("pii", "redact", "`action` for personal data: allow, redact or block")
		threshold = fs.Float64("threshold", 0, "injection `score` at or above which a text is blocked (0: the detector's default)")
		denyWords = fs.String("deny", "", "comma-separated `keywords` of a deny rule named \"deny\"")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	var pol scanPolicy
	var err error
	sa, err1 := parseAction(*secrets)
	pa, err2 := parseAction(*pii)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(stderr, "secureai scan:", err)
		return exitUsage
	}
	pol.redact = sanitize.Policy{Secrets: sa, Default: pa}
	pol.unicode = sanitize.DefaultUnicodePolicy()
	pol.scanner = sanitize.NewScanner()
	if pol.injection, err = sanitize.NewInjectionDetector(sanitize.InjectionOptions{Threshold: *threshold}); err != nil {
		fmt.Fprintln(stderr, "secureai scan:", err)
		return exitUsage
	}
	if *denyWords != "" {
		var kws []string
		for _, w := range strings.Split(*denyWords, ",") {
			if w = strings.TrimSpace(w); w != "" {
				kws = append(kws, w)
			}
		}
		if pol.deny, err = sanitize.NewDenyList(sanitize.DenyRule{Name: "deny", Keywords: kws}); err != nil {
			fmt.Fprintln(stderr, "secureai scan:", err)
			return exitUsage
		}
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	blocked := false
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			fmt.Fprintln(stderr, "secureai scan:", err)
			return exitUsage
		}
		b, err := scanFile(ctx, name, *jsonl || strings.HasSuffix(name, ".jsonl"), &pol, out)
		if err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "secureai scan: %s: %v\n", name, err)
			return exitUsage
		}
		blocked = blocked || b
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(stderr, "secureai scan:", err)
		return exitUsage
	}
	if blocked {
		return exitProblem
	}
	return exitOK
}

// scanFile scans one file (or standard input for "-") and reports whether
// any input was blocked.
func scanFile(ctx context.Context, name string, jsonl bool, pol *scanPolicy, out io.Writer) (bool, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return false, err
		}
		defer f.Close()
		r = f
	}
	if !jsonl {
		data, err := io.ReadAll(r)
		if err != nil {
			return false, err
		}
		if !utf8.Valid(data) {
			return false, fmt.Errorf("%w: not valid UTF-8", errBadInput)
		}
		id, _ := json.Marshal(name)
		return writeResult(out, scanText(id, string(data), pol))
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	blocked := false
	for line := 1; sc.Scan(); line++ {
		if err := ctx.Err(); err != nil {
			return blocked, err
		}
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var in struct {
			ID   json.RawMessage `json:"id"`
			Text *string         `json:"text"`
		}
		if err := json.Unmarshal(raw, &in); err != nil || in.Text == nil {
			return blocked, fmt.Errorf("%w: line %d: want a JSON object with a string \"text\"", errBadInput, line)
		}
		if !utf8.Valid(raw) {
			return blocked, fmt.Errorf("%w: line %d: not valid UTF-8", errBadInput, line)
		}
		if len(in.ID) == 0 {
			in.ID = json.RawMessage("null")
		}
		b, err := writeResult(out, scanText(in.ID, *in.Text, pol))
		if err != nil {
			return blocked, err
		}
		blocked = blocked || b
	}
	if err := sc.Err(); err != nil {
		return blocked, fmt.Errorf("%w: %w", errBadInput, err)
	}
	return blocked, nil
}

func writeResult(out io.Writer, res scanResult) (bool, error) {
	b, err := json.Marshal(res)
	if err != nil {
		return false, err
	}
	b = append(b, '\n')
	_, err = out.Write(b)
	return res.Decision == "block", err
}

// scanText runs every scanner on text and decides.
func scanText(id json.RawMessage, text string, pol *scanPolicy) scanResult {
	res := scanResult{ID: id, Decision: "allow", Findings: []scanFinding{}}
	decide := func(d string) {
		if d == "block" || d == "redact" && res.Decision == "allow" {
			res.Decision = d
		}
	}
	var all []sanitize.Finding
	for _, f := range sanitize.ScanUnicode(text) {
		all = append(all, f)
		var a sanitize.Action
		switch f.Type {
		case sanitize.TypeTagCharacters:
			a = pol.unicode.Tags
		default:
			a = sanitize.Redact // stripped
		}
		if a == sanitize.Block {
			decide("block")
		} else if a != sanitize.Allow {
			decide("redact")
		}
	}
	for _, f := range pol.scanner.Scan(text) {
		all = append(all, f)
		a := pol.redact.Default
		if f.Kind == sanitize.KindSecret {
			a = pol.redact.Secrets
		}
		switch a {
		case sanitize.Block:
			decide("block")
		case sanitize.Redact, sanitize.Pseudonymise:
			decide("redact")
		}
	}
	inj := pol.injection.Score(text)
	res.InjectionScore = float64(int(inj.Score*1000+0.5)) / 1000
	if inj.Flagged {
		decide("block")
		for _, s := range inj.Signals {
			all = append(all, sanitize.Finding{Kind: sanitize.KindInjection, Type: s.Name, Start: s.Start, End: s.End})
		}
	}
	if fs := pol.deny.Scan(text); len(fs) > 0 {
		decide("block")
		all = append(all, fs...)
	}
	sanitize.SortFindings(all)
	for _, f := range all {
		res.Findings = append(res.Findings, scanFinding{Kind: f.Kind, Type: f.Type, Start: f.Start, End: f.End})
	}
	return res
}
