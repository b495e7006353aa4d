package sanitize

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// Signal names reported in [Signal.Name] and, by [InjectionDetector.Scan],
// in [Finding.Type].
const (
	// SignalOverride: a request to ignore, forget or replace earlier
	// instructions ("ignore all previous instructions", "oublie les
	// consignes précédentes", "ignoriere alle vorherigen Anweisungen",
	// "ignora las instrucciones anteriores", "忽略之前的指令").
	SignalOverride = "override"
	// SignalRoleMarker: chat-template or role markers that fake a turn
	// ("<|im_start|>system", "[INST]", "<<SYS>>", "System:" at a line start,
	// "[system note: ...]", `"role": "system"`) and fake tool results.
	SignalRoleMarker = "role_marker"
	// SignalPromptExtraction: a request to reveal the system prompt or the
	// model's instructions ("repeat your instructions verbatim").
	SignalPromptExtraction = "prompt_extraction"
	// SignalEncodedPayload: base64, hex or rot13 text that decodes to an
	// injection, or a request to decode and obey.
	SignalEncodedPayload = "encoded_payload"
	// SignalObfuscation: invisible characters inside words, Unicode tag
	// characters, or homoglyphs (Cyrillic, Greek, full-width or
	// mathematical letters mixed into Latin words).
	SignalObfuscation = "obfuscation"
	// SignalExfilLink: a markdown image or link, or an HTML <img>, whose URL
	// points outside [InjectionOptions.AllowedLinkHosts] and carries data
	// (a template placeholder, a secret-like parameter, a long encoded value).
	SignalExfilLink = "exfil_link"
	// SignalJailbreakPersona: wording of role-play jailbreaks ("from now on
	// you are", "stay in character", "do anything now", "developer mode",
	// "no restrictions", two-persona answer formats, ...). Each is weak;
	// many together count.
	SignalJailbreakPersona = "jailbreak_persona"
	// SignalClassifier: the score of [InjectionOptions.Classifier], times
	// its weight.
	SignalClassifier = "classifier"
)

// Defaults of [InjectionOptions].
const (
	// DefaultInjectionThreshold is the threshold used when
	// [InjectionOptions.Threshold] is 0. It was chosen from TestEvalInjection:
	// about 1 % false positives on benign prompts, hard negatives included.
	DefaultInjectionThreshold = 0.35
	// DefaultClassifierWeight is the weight used when
	// [InjectionOptions.ClassifierWeight] is 0.
	DefaultClassifierWeight = 1.0
	// DefaultClassifierTimeout is the timeout used when
	// [InjectionOptions.ClassifierTimeout] is 0.
	DefaultClassifierTimeout = 2 * time.Second
)

// ErrInvalidInjectionOptions matches, through [errors.Is], every error
// [NewInjectionDetector] returns.
var ErrInvalidInjectionOptions = errors.New("sanitize: invalid injection options")

// ErrClassifier matches, through [errors.Is], the error
// [InjectionDetector.Detect] returns when the classifier fails, times out
// or returns a score outside [0,1] and [InjectionOptions.ClassifierFailOpen]
// is false.
var ErrClassifier = errors.New("sanitize: injection classifier failed")

// InjectionOptionsError is the error [NewInjectionDetector] returns for a
// bad option: which field and why. It never holds the classifier or text.
// It matches [ErrInvalidInjectionOptions] through [errors.Is].
type InjectionOptionsError struct {
	Field  string // "Threshold", "ClassifierWeight", "ClassifierTimeout" or "AllowedLinkHosts"
	Reason string
}

func (e *InjectionOptionsError) Error() string {
	return "sanitize: invalid injection options: " + e.Field + ": " + e.Reason
}

// Is reports whether target is [ErrInvalidInjectionOptions].
func (e *InjectionOptionsError) Is(target error) bool { return target == ErrInvalidInjectionOptions }

// ClassifierError is the error [InjectionDetector.Detect] returns when the
// classifier failed and the policy is fail-closed. Its message names no
// text and does not repeat the classifier's own message (which might
// quote the text); the cause is available through [errors.Unwrap], so
// errors.Is(err, context.DeadlineExceeded) works. It matches [ErrClassifier].
type ClassifierError struct {
	Err error
}

func (e *ClassifierError) Error() string {
	if e.Timeout() {
		return "sanitize: injection classifier failed: timed out"
	}
	return "sanitize: injection classifier failed"
}

// Unwrap returns the cause.
func (e *ClassifierError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrClassifier].
func (e *ClassifierError) Is(target error) bool { return target == ErrClassifier }

// Timeout reports whether the classifier ran out of time.
func (e *ClassifierError) Timeout() bool { return errors.Is(e.Err, context.DeadlineExceeded) }

var errClassifierScore = errors.New("sanitize: classifier score outside [0,1]")

// Classifier is a model-based prompt-injection detector, such as a hosted
// classifier, that [InjectionDetector.Detect] adds as one more signal.
// Classify returns the probability that text is an injection, in [0,1].
// It must be safe for concurrent use, must not retain text, and must
// return when ctx is done: Detect gives it a deadline but cannot stop a
// call that ignores its context.
type Classifier interface {
	Classify(ctx context.Context, text string) (score float64, err error)
}

// ClassifierFunc adapts a function to a [Classifier].
type ClassifierFunc func(ctx context.Context, text string) (float64, error)

// Classify returns f(ctx, text).
func (f ClassifierFunc) Classify(ctx context.Context, text string) (float64, error) {
	return f(ctx, text)
}

// InjectionOptions configure an [InjectionDetector]. The zero value is
// usable: default threshold, no classifier, every link host counted.
type InjectionOptions struct {
	// Threshold is the score in (0,1] at or above which a text is flagged.
	// Lower finds more injections and flags more benign text.
	// Default (0): [DefaultInjectionThreshold]. Refused: < 0, > 1, NaN.
	Threshold float64
	// Classifier is an optional model-based signal used by Detect (never by
	// Score or Scan). Default: none.
	Classifier Classifier
	// ClassifierWeight scales the classifier's score before it is combined
	// with the heuristics; 1 lets a confident classifier flag a text on its
	// own. Default (0): [DefaultClassifierWeight]. Refused: < 0, > 1, NaN.
	ClassifierWeight float64
	// ClassifierTimeout bounds each Classify call. Default (0):
	// [DefaultClassifierTimeout]. Refused: < 0.
	ClassifierTimeout time.Duration
	// ClassifierFailOpen, when true, lets the heuristics decide alone when
	// the classifier fails or times out; the result then records
	// ClassifierFailed. Default (false): Detect returns a [*ClassifierError]
	// — a failing classifier does not silently let text through.
	ClassifierFailOpen bool
	// AllowedLinkHosts are host names that markdown images and links may
	// point to without counting as exfiltration. "docs.example.com" allows
	// that host only; "*.example.com" allows its subdomains (not the bare
	// domain). Matching ignores case. Default: none, every host counts.
	// Refused: empty entries, entries with a scheme, path, port, user info,
	// spaces, or a "*" other than a leading "*.".
	AllowedLinkHosts []string
}

// InjectionDetector scores a text for prompt injection from many weak
// heuristic signals and, in [InjectionDetector.Detect], an optional
// [Classifier]. Build one with [NewInjectionDetector]; it is immutable and
// safe for concurrent use. The zero value is not usable. Most callers
// want [InjectionDetector.Score] (fast, no I/O) or, with a classifier,
// [InjectionDetector.Detect]; [InjectionDetector.Scan] plugs it into a
// [MultiScanner].
//
// # How a text is read
//
// One pass over the bytes finds anchors: ASCII words (lower-cased on the
// fly, looked up through a Bloom filter and a small open-addressing table,
// no allocation), the bytes '<', '[' and ']' (chat-template markers,
// markdown links), and bytes >= 0x80 (only noted). Around an anchor a rule
// reads a few neighbouring words: an override verb must be followed,
// within a sentence, by an instructions noun and a qualifier ("previous",
// "your", "system", ...); an extraction verb by "your/system/initial ...
// prompt/instructions"; and so on. Heavier work runs only where needed:
// runs of 20+ base64 or hex characters are decoded and the decoded text is
// scored again; rot13 anchor words ("vtaber", "vafgehpgvbaf") make the
// line be rot13-decoded and scored again; and when the text holds
// non-ASCII bytes, a second pass looks for Chinese phrases, invisible
// characters ([ScanUnicode]) and homoglyphs, and, when it finds
// obfuscation, scores the text again after [Fold] and a small
// Cyrillic/Greek-to-Latin confusables map. Decoding nests at most twice.
//
// # How signals combine
//
// Each rule that fires adds a [Signal] with a weight in (0,1). A rule
// that fires again counts half as much as its previous firing (so 20
// "jailbreak"s do not add up to certainty); a lexicon word (such as
// "uncensored") counts once per text. The score is the noisy-OR of the
// weights, 1 − Π(1 − wᵢ), and when three or more different signal names
// fired, (1 − score) is further multiplied by 0.8 (diverse evidence is
// stronger than repeated evidence). The score is in [0,1); a text is
// flagged when score >= the threshold. Strong signals (an override with a
// qualifier, a "<|im_start|>" marker, an exfiltration image) weigh 0.55–0.9
// and flag alone at the default threshold; weak ones (persona wording,
// "developer mode", a bare "system prompt") need company.
//
// # Limits
//
// It is a heuristic: paraphrases without the anchor words, languages
// other than English, French, German, Spanish and Chinese, leetspeak,
// letters spaced apart, and instructions that look like ordinary tasks
// (indirect injection in context) are missed; see TestEvalInjection for
// measured recall and false-positive rates.
type InjectionDetector struct {
	threshold       float64
	classifier      Classifier
	classifierW     float64
	timeout         time.Duration
	failOpen        bool
	allowedHosts    []string     // exact, lower case
	allowedSuffixes []string     // ".example.com" for "*.example.com"
	vec             *inVecTables // nil: the scalar pass
}

// InjectionResult is the verdict on one text.
type InjectionResult struct {
	// Score is the combined score, in [0,1].
	Score float64
	// Flagged reports Score >= the detector's threshold.
	Flagged bool
	// Signals are the signals that fired, in text order (by Start).
	Signals []Signal
	// ClassifierFailed reports that the classifier failed or timed out and,
	// under fail-open, the heuristics decided alone.
	ClassifierFailed bool
}

// Signal is one piece of evidence: its name (one of the Signal*
// constants), the weight it contributed, and the byte range [Start, End)
// of text it covers, on rune boundaries. Signals found only after
// decoding or folding cover the encoded run or, for folding, the whole
// text, because offsets in folded text do not map back.
type Signal struct {
	Name       string
	Weight     float64
	Start, End int
}

// NewInjectionDetector returns a detector configured by opts. It refuses,
// with an [*InjectionOptionsError] matching [ErrInvalidInjectionOptions],
// a threshold or classifier weight outside [0,1] or NaN, a negative
// timeout, and malformed allowed hosts; all problems are joined.
func NewInjectionDetector(opts InjectionOptions) (*InjectionDetector, error) {
	var errs []error
	bad := func(field, reason string) { errs = append(errs, &InjectionOptionsError{Field: field, Reason: reason}) }
	d := &InjectionDetector{
		threshold:   opts.Threshold,
		classifier:  opts.Classifier,
		classifierW: opts.ClassifierWeight,
		timeout:     opts.ClassifierTimeout,
		failOpen:    opts.ClassifierFailOpen,
		vec:         vecTables(),
	}
	if math.IsNaN(d.threshold) || d.threshold < 0 || d.threshold > 1 {
		bad("Threshold", "must be in [0,1]")
	} else if d.threshold == 0 {
		d.threshold = DefaultInjectionThreshold
	}
	if math.IsNaN(d.classifierW) || d.classifierW < 0 || d.classifierW > 1 {
		bad("ClassifierWeight", "must be in [0,1]")
	} else if d.classifierW == 0 {
		d.classifierW = DefaultClassifierWeight
	}
	if d.timeout < 0 {
		bad("ClassifierTimeout", "must not be negative")
	} else if d.timeout == 0 {
		d.timeout = DefaultClassifierTimeout
	}
	for _, h := range opts.AllowedLinkHosts {
		h = strings.ToLower(h)
		if reason := badHost(h); reason != "" {
			bad("AllowedLinkHosts", reason)
			continue
		}
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			d.allowedSuffixes = append(d.allowedSuffixes, "."+rest)
		} else {
			d.allowedHosts = append(d.allowedHosts, h)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// badHost returns why h (lower case) is not an acceptable allowed host, or "".
func badHost(h string) string {
	if h == "" {
		return "empty host"
	}
	rest := strings.TrimPrefix(h, "*.")
	if rest == "" || len(rest) > 253 {
		return "bad host length"
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "host must be a bare host name (no scheme, port, path, user info or wildcard inside)"
		}
	}
	if rest[0] == '.' || rest[len(rest)-1] == '.' || strings.Contains(rest, "..") {
		return "malformed host name"
	}
	return ""
}

// Threshold returns the score at or above which a text is flagged.
func (d *InjectionDetector) Threshold() float64 { return d.threshold }

// Score scores text with the heuristics alone (no classifier, no I/O). It
// does not allocate when no signal fires. Invalid UTF-8 is scored as is.
func (d *InjectionDetector) Score(text string) InjectionResult {
	sigs := d.signals(text, 0)
	s := combine(sigs)
	return InjectionResult{Score: s, Flagged: s >= d.threshold, Signals: sigs}
}

// Detect scores text with the heuristics and, when configured, the
// classifier, which is given ctx bounded by the classifier timeout. A
// classifier error, timeout, cancelled ctx or a score outside [0,1] makes
// Detect return the heuristic result with ClassifierFailed set and a
// [*ClassifierError] (fail-closed, the default), or that result and nil
// under [InjectionOptions.ClassifierFailOpen].
func (d *InjectionDetector) Detect(ctx context.Context, text string) (InjectionResult, error) {
	res := d.Score(text)
	if d.classifier == nil {
		return res, nil
	}
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	p, err := d.classifier.Classify(cctx, text)
	if err == nil {
		err = cctx.Err() // a late answer counts as a timeout
	}
	cancel()
	if err == nil && (math.IsNaN(p) || p < 0 || p > 1) {
		err = errClassifierScore
	}
	if err != nil {
		res.ClassifierFailed = true
		if d.failOpen {
			return res, nil
		}
		return res, &ClassifierError{Err: err}
	}
	if w := p * d.classifierW; w > 0 {
		res.Signals = append(res.Signals, Signal{Name: SignalClassifier, Weight: w, Start: 0, End: len(text)})
		slices.SortStableFunc(res.Signals, func(a, b Signal) int { return a.Start - b.Start })
		res.Score = combine(res.Signals)
		res.Flagged = res.Score >= d.threshold
	}
	return res, nil
}

// Scan implements [Scanner]: when [InjectionDetector.Score] flags text, it
// returns one [Finding] of kind [KindInjection] per signal, typed by the
// signal's name; otherwise nil.
func (d *InjectionDetector) Scan(text string) []Finding {
	res := d.Score(text)
	if !res.Flagged {
		return nil
	}
	out := make([]Finding, len(res.Signals))
	for i, s := range res.Signals {
		out[i] = Finding{Kind: KindInjection, Type: s.Name, Start: s.Start, End: s.End}
	}
	return out
}

// ScanInjection scans text with a detector of default options (threshold
// [DefaultInjectionThreshold], no classifier, no allowed hosts). See
// [InjectionDetector.Scan].
func ScanInjection(text string) []Finding {
	d := InjectionDetector{threshold: DefaultInjectionThreshold, vec: vecTables()}
	return d.Scan(text)
}

// combine is the noisy-OR of the signals' weights with the diversity
// bonus described on [InjectionDetector].
func combine(sigs []Signal) float64 {
	if len(sigs) == 0 {
		return 0
	}
	miss := 1.0
	var names [8]string
	n := 0
	for _, s := range sigs {
		w := min(max(s.Weight, 0), 1)
		miss *= 1 - w
		if n < len(names) && !slices.Contains(names[:n], s.Name) {
			names[n] = s.Name
			n++
		}
	}
	if n >= 3 {
		miss *= 0.8
	}
	return min(max(1-miss, 0), 1)
}

// hostAllowed reports whether host (any case) is in the allowed lists.
func (d *InjectionDetector) hostAllowed(host string) bool {
	for _, h := range d.allowedHosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	for _, s := range d.allowedSuffixes {
		if len(host) > len(s) && strings.EqualFold(host[len(host)-len(s):], s) {
			return true
		}
	}
	return false
}
