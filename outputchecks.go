package secureai

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/secureai-go/secureai/sanitize"
)

// OutputPolicy configures the built-in output checks of stage 10, which
// treat the model's answer as untrusted data.
type OutputPolicy struct {
	// Secrets is what happens to an API key, token, private key or
	// password in an answer: sanitize.Redact (the default) or
	// sanitize.Block (refuse the answer with ErrOutputBlocked, Reason
	// "secret_<type>"); sanitize.Allow leaves it.
	Secrets sanitize.Action
	// PII is what happens to personal data in an answer: sanitize.Allow
	// (the default: an answer may quote what the user wrote, restored from
	// the pseudonym vault), sanitize.Redact or sanitize.Block.
	PII sanitize.Action
	// LinkHosts are the hosts that markdown images (and, with
	// RemoveLinks, links) in an answer may point to; "*.example.com"
	// allows the subdomains of example.com. Markdown images to any other
	// host are removed: a renderer fetches them without a click, with
	// whatever the model put in the URL (the exfiltration channel of
	// indirect prompt injection). Empty: every image is removed.
	LinkHosts []string
	// RemoveLinks also turns links to hosts outside LinkHosts into their
	// text. Default false: links need a click, and answers cite sources.
	RemoveLinks bool
	// KeepImages leaves markdown images alone (no image check).
	KeepImages bool
	// HoldBack is the minimum number of bytes a stream holds back so that
	// a secret, canary or link split across chunks is seen whole before
	// its first byte is released. Default 128; the longest token-like run
	// at the end of the text is always held too, and an unterminated
	// private-key block up to MaxHold.
	HoldBack int
	// MaxHold bounds what a stream holds back per channel (default 16 KiB):
	// an unterminated private-key block or a token-like run longer than
	// this is refused (a private key) or released after a scan (any other
	// run), so memory stays bounded whatever the answer's length.
	MaxHold int
}

// WithOutputPolicy sets the built-in output checks. Default: secrets
// redacted, personal data allowed, markdown images to any host removed,
// pseudonyms of the request restored; streams hold back 128 bytes (more
// for an unfinished token, link or private key). Without(StageOutput) or
// WithoutInputCheck(CheckRedaction) turns off the secrets and pseudonym
// part.
func WithOutputPolicy(p OutputPolicy) Option {
	return func(c *config) error {
		if p.HoldBack < 0 || p.MaxHold < 0 || p.MaxHold > 0 && p.MaxHold < p.HoldBack {
			return fmt.Errorf("secureai: WithOutputPolicy: HoldBack %d and MaxHold %d (want 0 <= HoldBack <= MaxHold)", p.HoldBack, p.MaxHold)
		}
		for _, a := range []sanitize.Action{p.Secrets, p.PII} {
			if a == sanitize.Pseudonymise {
				return errors.New("secureai: WithOutputPolicy: pseudonymise is an input action; use Redact or Block")
			}
		}
		for _, h := range p.LinkHosts {
			if h == "" || strings.ContainsAny(h, "/:@ ") {
				return fmt.Errorf("secureai: WithOutputPolicy: %q is not a host name", h)
			}
		}
		c.output = &p
		return nil
	}
}

// builtinOutputChecks returns the built-in checks of stage 10.
func builtinOutputChecks(cfg *config) []OutputChecker {
	p := OutputPolicy{Secrets: sanitize.Redact}
	if cfg.output != nil {
		p = *cfg.output
	}
	if p.HoldBack == 0 {
		p.HoldBack = 128
	}
	if p.MaxHold == 0 {
		p.MaxHold = 16 << 10
	}
	o := &outputSafety{p: p, redaction: !cfg.inputOff[CheckRedaction], leak: cfg.leak != nil}
	o.policy = sanitize.Policy{Secrets: p.Secrets, Default: p.PII}
	o.scan = sanitize.NewScanner()
	if !p.KeepImages || p.RemoveLinks {
		o.allow = sanitize.HostAllowlist(p.LinkHosts...)
	}
	var out []OutputChecker
	if o.redaction || o.leak || o.allow != nil {
		out = append(out, o)
	}
	if !cfg.toolsUnchecked {
		out = append(out, toolCallCheck{c: cfg.toolSchemas})
	}
	return out
}

// outputSafety is the built-in text check of answers: system-prompt leaks
// (canary, verbatim runs), secrets and personal data, exfiltration links,
// then the request's pseudonyms restored. Streams get the same checks
// through a hold-back window (windowGuard).
type outputSafety struct {
	p         OutputPolicy
	policy    sanitize.Policy
	redaction bool
	leak      bool
	allow     func(host string) bool // nil: no link check
	scan      sanitize.Scanner       // secrets and PII
}

func (o *outputSafety) String() string {
	var parts []string
	if o.leak {
		parts = append(parts, "system-prompt leak (canary, verbatim)")
	}
	if o.redaction {
		parts = append(parts, "secrets "+o.p.Secrets.String()+", PII "+o.p.PII.String()+", pseudonyms restored")
	}
	if o.allow != nil {
		what := "images"
		if o.p.RemoveLinks {
			what = "images and links"
		}
		if len(o.p.LinkHosts) == 0 {
			parts = append(parts, what+" removed")
		} else {
			parts = append(parts, what+" outside "+strings.Join(o.p.LinkHosts, ", ")+" removed")
		}
	}
	return "output safety (" + strings.Join(parts, "; ") + ")"
}

func (o *outputSafety) CheckOutput(_ context.Context, call *Call, out *Output) error {
	for i := range out.Fields {
		text, err := o.checkText(call, "", out.Fields[i].Text)
		if err != nil {
			return err
		}
		out.Fields[i].Text = text
	}
	return nil
}

// CheckStream starts the incremental form of the checks for one stream.
func (o *outputSafety) CheckStream(_ context.Context, call *Call) StreamGuard {
	hold := o.p.HoldBack
	if d, ok := call.Value(leakKey{}).(*sanitize.LeakDetector); ok {
		hold = max(hold, d.HoldBack())
	}
	return &windowGuard{call: call, check: o.checkText, hold: hold, maxHold: o.p.MaxHold, ctxLen: hold, chans: map[int]*window{}}
}

// checkText checks text, the next part of one answer channel; prev is the
// end of what was already released before it (context for findings that
// straddle the boundary; it is never rewritten).
func (o *outputSafety) checkText(call *Call, prev, text string) (string, error) {
	if text == "" {
		return "", nil
	}
	joined := text
	if prev != "" {
		joined = prev + text
	}
	if o.leak {
		if d, ok := call.Value(leakKey{}).(*sanitize.LeakDetector); ok {
			for _, f := range d.Scan(joined) {
				if f.End > len(prev) {
					call.AddFinding(Finding{Kind: string(f.Kind), Type: f.Type, Count: 1})
					return "", refuse(ErrOutputBlocked, StageOutput, "system_prompt_leak", "system_prompt_leak")
				}
			}
		}
	}
	if o.redaction {
		var findings []sanitize.Finding
		if o.p.PII == sanitize.Allow {
			findings = sanitize.ScanSecrets(joined)
		} else {
			findings = o.scan.Scan(joined)
		}
		if o.p.Secrets == sanitize.Allow {
			findings = dropKind(findings, sanitize.KindSecret)
		}
		findings = clipFindings(findings, len(prev))
		if len(findings) > 0 {
			reportFindings(call, findings)
			red, blocked := sanitize.Apply(text, findings, o.policy, nil)
			if blocked != nil {
				return "", refuse(ErrOutputBlocked, StageOutput, "output_redaction", string(blocked.Kind)+"_"+blocked.Type)
			}
			text = red
		}
	}
	if o.allow != nil {
		cleaned, fs := sanitize.RemoveLinks(text, o.allow)
		if !o.p.RemoveLinks || o.p.KeepImages {
			cleaned, fs = o.linksOnly(text, fs)
		}
		if len(fs) > 0 {
			reportFindings(call, fs)
			text = cleaned
		}
	}
	if o.redaction {
		if v, ok := call.Value(vaultKey{}).(*sanitize.Vault); ok {
			text = v.Restore(text)
		}
	}
	return text, nil
}

// linksOnly redoes link removal keeping what the policy keeps: links when
// RemoveLinks is off, images when KeepImages is on.
func (o *outputSafety) linksOnly(text string, fs []sanitize.Finding) (string, []sanitize.Finding) {
	keep := func(f sanitize.Finding) bool {
		return f.Type == "exfil_link" && !o.p.RemoveLinks || f.Type == "exfil_image" && o.p.KeepImages
	}
	var drop []sanitize.Finding
	for _, f := range fs {
		if !keep(f) {
			drop = append(drop, f)
		}
	}
	if len(drop) == 0 {
		return text, nil
	}
	if len(drop) == len(fs) {
		cleaned, _ := sanitize.RemoveLinks(text, o.allow)
		return cleaned, drop
	}
	// Remove only the dropped ones: rewrite from the end so that offsets hold.
	var b strings.Builder
	last := 0
	for _, f := range drop {
		if f.Start < last {
			continue
		}
		b.WriteString(text[last:f.Start])
		part, _ := sanitize.RemoveLinks(text[f.Start:f.End], o.allow)
		b.WriteString(part)
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String(), drop
}

// dropKind returns findings without those of kind k.
func dropKind(fs []sanitize.Finding, k sanitize.Kind) []sanitize.Finding {
	out := fs[:0]
	for _, f := range fs {
		if f.Kind != k {
			out = append(out, f)
		}
	}
	return out
}

// clipFindings shifts findings of prev+text to offsets in text: those
// wholly in prev are dropped, those that start in prev are cut at its end.
func clipFindings(fs []sanitize.Finding, n int) []sanitize.Finding {
	if n == 0 {
		return fs
	}
	out := fs[:0]
	for _, f := range fs {
		if f.End <= n {
			continue
		}
		f.Start, f.End = max(f.Start-n, 0), f.End-n
		out = append(out, f)
	}
	return out
}

// windowGuard is the incremental form of a text check: each channel's text
// is held back until it can be checked without cutting a finding, then
// released in the order it came.
//
// What is held: the last hold bytes; the whole token-like run (no
// whitespace) at the end, so that a key, a JWT, a canary or a pseudonym
// placeholder is never split; an unfinished markdown link or image; and an
// unterminated "-----BEGIN" block. A cut is made after a whitespace byte.
// Past maxHold bytes an unterminated private key is refused and any other
// run is released after a check, so memory stays bounded.
type windowGuard struct {
	call    *Call
	check   func(call *Call, prev, text string) (string, error)
	hold    int
	maxHold int
	ctxLen  int // bytes of released text kept as context for the check
	chans   map[int]*window
}

type window struct {
	pending string // received, not yet released
	prev    string // the end of what was released
	// retry: after a window of 1 KiB or more could release nothing, the
	// length it must reach before cut is tried again (see Next).
	retry int
}

// windowRetryMin is the window from which a guard that could release
// nothing waits for the window to grow by an eighth before it tries
// again: holding more is always safe, and a window that hostile text
// keeps whole ("[[[[…", a run without spaces) is then read a bounded
// number of times per byte, not once per chunk, up to MaxHold each.
const windowRetryMin = 1 << 10

func (g *windowGuard) Next(ch int, delta string) (string, error) {
	w := g.chans[ch]
	if w == nil {
		w = &window{}
		g.chans[ch] = w
	}
	w.pending += delta
	if len(w.pending) < w.retry && len(w.pending) <= g.maxHold {
		return "", nil
	}
	cut, err := g.cut(w.pending)
	if err != nil || cut == 0 {
		if n := len(w.pending); n >= windowRetryMin {
			w.retry = n + n/8
		}
		return "", err
	}
	w.retry = 0
	return g.release(w, cut)
}

func (g *windowGuard) End(ch int) (string, error) {
	w := g.chans[ch]
	if w == nil {
		return "", nil
	}
	delete(g.chans, ch)
	return g.release(w, len(w.pending))
}

// release checks and releases pending[:cut].
func (g *windowGuard) release(w *window, cut int) (string, error) {
	part := w.pending[:cut]
	out, err := g.check(g.call, w.prev, part)
	if err != nil {
		return "", err
	}
	w.pending = w.pending[cut:]
	w.prev = tail(w.prev+part, g.ctxLen)
	return out, nil
}

// cut returns how many leading bytes of p may be checked and released now.
func (g *windowGuard) cut(p string) (int, error) {
	limit := len(p) - g.hold
	if limit <= 0 {
		return 0, nil
	}
	run := len(p) // start of the token-like run at the end
	for run > 0 && !isSpaceByte(p[run-1]) {
		run--
	}
	limit = min(limit, run)
	if i := strings.LastIndex(p[:limit], "-----BEGIN"); i >= 0 {
		// Never cut a private-key block: hold it from its first byte until
		// its END line is complete.
		if end := pemEnd(p, i); end > limit {
			limit = i
			if end > len(p) && len(p)-i > g.maxHold {
				return 0, refuse(ErrOutputBlocked, StageOutput, "stream_guard", "unterminated_private_key")
			}
		}
	}
	if i := sanitize.PendingLink(p); i >= 0 {
		limit = min(limit, i)
	}
	for limit > 0 && !isSpaceByte(p[limit-1]) {
		limit--
	}
	if limit == 0 && len(p) > g.maxHold {
		// One run longer than the cap. A run that opens like a token with
		// no fixed length (a JWT) cannot be checked whole: refuse it. Any
		// other run (a long URL, minified code) is released but the window,
		// on a rune boundary; the check still sees it with its context.
		if r := strings.TrimLeft(p[run:], "\"'`([{<"); strings.HasPrefix(r, "eyJ") {
			return 0, refuse(ErrOutputBlocked, StageOutput, "stream_guard", "unterminated_token")
		}
		limit = len(p) - g.hold
		for limit > 0 && !utf8.RuneStart(p[limit]) {
			limit--
		}
	}
	return limit, nil
}

// pemEnd returns the end of the "-----END ...-----" line of the block
// that begins at i, or len(p)+1 when it has not arrived yet.
func pemEnd(p string, i int) int {
	j := strings.Index(p[i:], "-----END")
	if j < 0 {
		return len(p) + 1
	}
	j += i + len("-----END")
	k := strings.Index(p[j:], "-----")
	if k < 0 {
		return len(p) + 1
	}
	return j + k + len("-----")
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'
}

// tail returns the last n bytes of s, starting on a rune boundary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}
