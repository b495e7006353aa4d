package sanitize

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSystemPromptBytes is the largest system prompt [LoadSystemPrompt]
// reads: 256 KiB.
const MaxSystemPromptBytes = 256 << 10

// ErrPromptRejected matches, through [errors.Is], every [PromptError].
var ErrPromptRejected = errors.New("sanitize: system prompt rejected")

// PromptError is the error [LoadSystemPrompt] and [CheckSystemPrompt]
// return when they refuse a system prompt. Its text holds the prompt's
// name, reason, byte offsets and hash, never the prompt's text.
type PromptError struct {
	// Name is the prompt's file name; "" for CheckSystemPrompt.
	Name string
	// Reason is "missing_pin", "invalid_pin", "read_error", "too_large",
	// "invalid_utf8", "pin_mismatch", "secret", "connection_string",
	// "internal_address" or "internal_host".
	Reason string
	// Start and End delimit the offending bytes, for the reasons found
	// in the text.
	Start, End int
	// Got is the prompt's hash, "sha256:<hex>", for "pin_mismatch": the
	// pin to set once the change has been reviewed.
	Got string
	// Err is the underlying error, for "read_error".
	Err error
}

func (e *PromptError) Error() string {
	s := "sanitize: system prompt"
	if e.Name != "" {
		s += " " + quoteShort(e.Name)
	}
	s += " refused: " + e.Reason
	switch {
	case e.Got != "":
		s += " (content is " + e.Got + ")"
	case e.End > e.Start:
		s += " at bytes " + strconv.Itoa(e.Start) + "-" + strconv.Itoa(e.End)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns e.Err.
func (e *PromptError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrPromptRejected].
func (e *PromptError) Is(target error) bool { return target == ErrPromptRejected }

// SystemPrompt is a system prompt loaded and checked by
// [LoadSystemPrompt].
type SystemPrompt struct {
	Name   string // file name in the fs.FS
	Text   string
	SHA256 string // lower-case hex digest of Text
}

// Hash returns the prompt's hash as "sha256:<hex>", the form audit events
// carry.
func (p SystemPrompt) Hash() string { return "sha256:" + p.SHA256 }

// PromptHash returns the SHA-256 of text as "sha256:<hex>": the value to
// pin a prompt with and to put in audit events.
func PromptHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// LoadSystemPrompt reads the system prompt name from fsys and returns it
// if its SHA-256 equals pin, a 64-digit hex digest optionally prefixed by
// "sha256:" (from [PromptHash] or `sha256sum`). It refuses a missing or
// malformed pin, a file larger than [MaxSystemPromptBytes], text that is
// not valid UTF-8, a changed prompt (the error holds the new hash, to pin
// once the change is reviewed) and a prompt [CheckSystemPrompt] refuses.
// Every refusal is a *[PromptError].
func LoadSystemPrompt(fsys fs.FS, name, pin string) (SystemPrompt, error) {
	want, reason := parsePin(pin)
	if reason != "" {
		return SystemPrompt{}, &PromptError{Name: name, Reason: reason}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return SystemPrompt{}, &PromptError{Name: name, Reason: "read_error", Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSystemPromptBytes+1))
	if err != nil {
		return SystemPrompt{}, &PromptError{Name: name, Reason: "read_error", Err: err}
	}
	if len(b) > MaxSystemPromptBytes {
		return SystemPrompt{}, &PromptError{Name: name, Reason: "too_large"}
	}
	sum := sha256.Sum256(b)
	if subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return SystemPrompt{}, &PromptError{Name: name, Reason: "pin_mismatch", Got: "sha256:" + hex.EncodeToString(sum[:])}
	}
	text := string(b)
	if !utf8.ValidString(text) {
		return SystemPrompt{}, &PromptError{Name: name, Reason: "invalid_utf8"}
	}
	if err := CheckSystemPrompt(text); err != nil {
		if pe, ok := errors.AsType[*PromptError](err); ok {
			pe.Name = name
		}
		return SystemPrompt{}, err
	}
	return SystemPrompt{Name: name, Text: text, SHA256: hex.EncodeToString(sum[:])}, nil
}

// parsePin returns the digest in pin, or the reason it is refused.
func parsePin(pin string) ([]byte, string) {
	pin = strings.TrimSpace(pin)
	if pin == "" {
		return nil, "missing_pin"
	}
	if len(pin) > 7 && strings.EqualFold(pin[:7], "sha256:") {
		pin = pin[7:]
	}
	if len(pin) != 64 {
		return nil, "invalid_pin"
	}
	b, err := hex.DecodeString(pin)
	if err != nil {
		return nil, "invalid_pin"
	}
	return b, ""
}

// CheckSystemPrompt refuses, with a *[PromptError], a system prompt that
// holds what must not reach a model provider or leak back through an
// answer:
//   - a secret [ScanSecrets] finds (API keys, tokens, private keys,
//     passwords): reason "secret";
//   - a connection string with a password: a URL with user and password
//     ("postgres://app:pw@db/x", "mongodb+srv://…", "jdbc:mysql://u:p@…"),
//     or key-value pairs with a password ("Server=db;Password=…",
//     "jdbc:…;password=…", "?user=app&password=…"): "connection_string";
//   - an internal IP address: RFC 1918, loopback, link-local, CGNAT
//     100.64.0.0/10, IPv6 unique-local (fc00::/7), loopback and
//     link-local, including with a port or a CIDR suffix:
//     "internal_address";
//   - a host name under .internal, .local, .localhost, .corp, .lan,
//     .intranet, .private or .home.arpa: "internal_host".
//
// Placeholders ("postgres://user:${PASSWORD}@db") are allowed. The first
// match in the text is reported.
func CheckSystemPrompt(text string) error {
	type hit struct {
		reason     string
		start, end int
	}
	var hits []hit
	for _, f := range ScanSecrets(text) {
		r := "secret"
		if f.Type == "url_password" || f.Type == "password" && connContext(text, f.Start) {
			r = "connection_string"
		}
		hits = append(hits, hit{r, f.Start, f.End})
	}
	if s, e := findConnPassword(text); e > 0 {
		hits = append(hits, hit{"connection_string", s, e})
	}
	if s, e := findInternalIP(text); e > 0 {
		hits = append(hits, hit{"internal_address", s, e})
	}
	if s, e := findInternalHost(text); e > 0 {
		hits = append(hits, hit{"internal_host", s, e})
	}
	if len(hits) == 0 {
		return nil
	}
	best := hits[0]
	for _, h := range hits[1:] {
		if h.start < best.start {
			best = h
		}
	}
	return &PromptError{Reason: best.reason, Start: best.start, End: best.end}
}

// connContext reports whether the line holding i looks like a connection
// string.
func connContext(text string, i int) bool {
	s := strings.LastIndexByte(text[:i], '\n') + 1
	e := strings.IndexByte(text[i:], '\n')
	if e < 0 {
		e = len(text)
	} else {
		e += i
	}
	line := text[s:e]
	for _, w := range []string{"jdbc:", "server=", "data source=", "host=", "address=", "database=", "initial catalog=", "uid=", "user id="} {
		if containsFold(line, w) {
			return true
		}
	}
	return false
}

// findConnPassword finds "password=value" or "pwd=value" in a connection
// string: a line that also names a server or is a JDBC URL.
func findConnPassword(text string) (int, int) {
	for _, key := range []string{"password=", "pwd="} {
		for from := 0; from < len(text); {
			j := indexFold(text[from:], key)
			if j < 0 {
				break
			}
			j += from
			from = j + len(key)
			if j > 0 && (isAlnum(text[j-1]) || text[j-1] == '_') {
				continue
			}
			v := j + len(key)
			e := v
			for e < len(text) && text[e] != ';' && text[e] != '&' && text[e] != '\n' && text[e] != ' ' && text[e] != '"' && text[e] != '\'' {
				e++
			}
			if e == v || placeholder(text[v:e]) || !connContext(text, j) {
				continue
			}
			return v, e
		}
	}
	return 0, 0
}

// cgnat is the shared address space of RFC 6598.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		cgnat.Contains(a)
}

// findInternalIP finds an internal IPv4 or IPv6 address, alone, with a
// port, in brackets or before a CIDR suffix.
func findInternalIP(text string) (int, int) {
	for i := 0; i < len(text); {
		c := text[i]
		if !isIPByte(c) || i > 0 && (isAlnum(text[i-1]) || text[i-1] == '_' || text[i-1] == '.' || text[i-1] == ':') {
			i++
			continue
		}
		e := i
		for e < len(text) && e-i < 64 && (isIPByte(text[e]) || text[e] == '%' && e > i) {
			e++
		}
		tok := strings.TrimRight(text[i:e], ".:")
		if tok != "" && (strings.Count(tok, ".") == 3 || strings.Count(tok, ":") >= 2) {
			if a, ok := parseIPToken(tok); ok && internalAddr(a) {
				return i, i + len(tok)
			}
		}
		if e == i {
			e++
		}
		i = e
	}
	return 0, 0
}

// parseIPToken parses an address, trying without a ":port" suffix for
// IPv4 and without a zone.
func parseIPToken(tok string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(tok); err == nil {
		return a, true
	}
	if p := strings.IndexByte(tok, '%'); p > 0 {
		if a, err := netip.ParseAddr(tok[:p]); err == nil {
			return a, true
		}
	}
	if strings.Count(tok, ":") == 1 {
		if a, err := netip.ParseAddr(tok[:strings.IndexByte(tok, ':')]); err == nil {
			return a, true
		}
	}
	return netip.Addr{}, false
}

var internalSuffixes = []string{".internal", ".local", ".localhost", ".corp", ".lan", ".intranet", ".private", ".home.arpa"}

// findInternalHost finds a host name (at least one label, a dot and an
// internal suffix) such as "db.internal" or "files.corp".
func findInternalHost(text string) (int, int) {
	for i := 0; i < len(text); {
		if !isAlnum(text[i]) || i > 0 && (isAlnum(text[i-1]) || text[i-1] == '-' || text[i-1] == '.' || text[i-1] == '_') {
			i++
			continue
		}
		e := i
		for e < len(text) && (isAlnum(text[e]) || text[e] == '-' || text[e] == '.') {
			e++
		}
		name := strings.TrimRight(text[i:e], ".-")
		if strings.IndexByte(name, '.') > 0 {
			for _, suf := range internalSuffixes {
				if len(name) > len(suf) && hasPrefixFold(name[len(name)-len(suf):], suf) {
					return i, i + len(name)
				}
			}
		}
		i = e
	}
	return 0, 0
}
