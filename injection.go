package secureai

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/secureai-go/secureai/sanitize"
)

// InjectionPolicy configures the prompt-injection check of stage 5.
type InjectionPolicy struct {
	// Options tune the detector: the threshold, an optional model-based
	// classifier with its timeout and fail policy, and the hosts that
	// markdown links may point to. The zero value is the default detector.
	Options sanitize.InjectionOptions
	// ReportOnly records flagged texts in the audit event (decision
	// "allow", findings "injection/<signal>") instead of refusing them:
	// for measuring the detector on real traffic before enforcing it.
	ReportOnly bool
}

// WithInjectionCheck sets the prompt-injection check of stage 5. Default:
// on, with [sanitize.InjectionOptions] zero (the default threshold),
// refusing a flagged text with ErrInputRejected, Check "injection",
// Reason "prompt_injection".
//
// It reads the texts a user or a tool supplied: user messages (and
// Responses user input), tool and function results, and content marked
// with [sanitize.Untrusted]. System and developer messages, assistant
// turns and tool schemas are the application's own and are not scored.
// The detector is a scored set of heuristics (see
// [sanitize.InjectionDetector]); it raises the cost of an attack and records
// attempts, it does not make a model safe to obey untrusted text: pair it
// with spotlighting, output checks and least-privilege tools.
func WithInjectionCheck(p InjectionPolicy) Option {
	return func(c *config) error {
		if _, err := sanitize.NewInjectionDetector(p.Options); err != nil {
			return fmt.Errorf("%w: %w", errInjectionSetup, err)
		}
		c.injection = &p
		return nil
	}
}

// injectionCheck scores the user-supplied texts of a request.
type injectionCheck struct {
	d          *sanitize.InjectionDetector
	s          *sharedScan // scores the texts when there is no classifier
	reportOnly bool
	classifier bool
}

func newInjectionCheck(p *InjectionPolicy, s *sharedScan) (*injectionCheck, error) {
	var pol InjectionPolicy
	if p != nil {
		pol = *p
	}
	d, err := sanitize.NewInjectionDetector(pol.Options)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInjectionSetup, err)
	}
	c := &injectionCheck{d: d, reportOnly: pol.ReportOnly, classifier: pol.Options.Classifier != nil}
	if !c.classifier && s != nil && s.injection {
		c.s = s
	}
	return c, nil
}

func (c *injectionCheck) String() string {
	s := "prompt-injection heuristics (threshold " + strconv.FormatFloat(c.d.Threshold(), 'f', 2, 64)
	if c.classifier {
		s += ", with classifier"
	}
	if c.reportOnly {
		return s + ", report only)"
	}
	return s + ", refuse)"
}

// scored reports whether the injection check reads f.
func scored(f *TextField) bool {
	switch f.Role {
	case "user", "tool", "function":
		return true
	}
	return isToolResult(f) || hasEnvelope(f.Text)
}

func (c *injectionCheck) CheckInput(ctx context.Context, call *Call, in *Input) error {
	for i := range in.Fields {
		f := &in.Fields[i]
		if !scored(f) {
			continue
		}
		var res sanitize.InjectionResult
		if c.classifier {
			var err error
			if res, err = c.d.Detect(ctx, f.Text); err != nil {
				return &Error{Kind: ErrInputRejected, Stage: StageInput, Check: CheckInjection,
					Reason: "injection_classifier_unavailable", Err: err}
			}
			if res.ClassifierFailed {
				call.AddFinding(Finding{Kind: string(sanitize.KindInjection), Type: "classifier_failed_open", Count: 1})
			}
		} else if c.s != nil {
			res = c.s.field(call, i, f.Text, true).Injection // = c.d.Score(f.Text)
		} else {
			res = c.d.Score(f.Text)
		}
		if !res.Flagged {
			continue
		}
		fs := make([]sanitize.Finding, len(res.Signals))
		for j, s := range res.Signals {
			fs[j] = sanitize.Finding{Kind: sanitize.KindInjection, Type: s.Name, Start: s.Start, End: s.End}
		}
		slices.SortStableFunc(fs, func(a, b sanitize.Finding) int { return strings.Compare(a.Type, b.Type) })
		reportFindings(call, fs)
		if !c.reportOnly {
			return refuse(ErrInputRejected, StageInput, CheckInjection, "prompt_injection")
		}
	}
	return nil
}

// hasEnvelope reports whether text may hold a [sanitize.Untrusted]
// envelope (its runes are U+FDD0–U+FDEF, all starting with these bytes).
func hasEnvelope(text string) bool { return strings.Contains(text, "\xEF\xB7") }
