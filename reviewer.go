package secureai

import (
	"context"
	"errors"
	"slices"
	"strings"
)

// Reviewer holds answers for human review in sensitive sectors. Hold
// receives an answer that matched one of the categories named in
// [WithReviewer], keeps it (in a queue, a ticket, a database) and returns
// the review's ID; the caller gets ErrHeldForReview with that ID and never
// the answer. An error from Hold refuses the answer (ErrOutputBlocked): an
// answer that must be reviewed is never released because the review
// system is down. Hold must be safe for concurrent use.
type Reviewer interface {
	Hold(ctx context.Context, r Review) (id string, err error)
}

// ReviewerFunc adapts a function to [Reviewer].
type ReviewerFunc func(ctx context.Context, r Review) (string, error)

// Hold calls f.
func (f ReviewerFunc) Hold(ctx context.Context, r Review) (string, error) { return f(ctx, r) }

// Review is what a [Reviewer] keeps: the call's identity and the answer's
// texts after the other output checks (pseudonyms restored, secrets
// redacted), and the categories that sent it to review.
type Review struct {
	RequestID  string
	Caller     Caller // as the application set it; the audit trail holds only its pseudonym
	Model      string
	Endpoint   Endpoint
	Categories []string
	Fields     []TextField
}

// WithReviewer sends answers to r when the call matched one of categories:
// a finding's kind ("pii", "secret", "injection", "deny", "leak") or
// kind/type ("pii/email", "deny/medical-advice"), recorded by any earlier
// stage, including the input checks in report-only mode; or "*" for every
// answer. It runs after every other output check; on streams it holds the
// whole answer until the end (the reviewer needs all of it). At least one
// category is required, and a nil reviewer is refused.
func WithReviewer(r Reviewer, categories ...string) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("secureai: WithReviewer: nil reviewer")
		}
		if len(categories) == 0 || slices.Contains(categories, "") {
			return errors.New("secureai: WithReviewer: name at least one non-empty category")
		}
		c.reviewer = &reviewCheck{r: r, cats: slices.Clone(categories)}
		return nil
	}
}

// reviewCheck is the last output check when a reviewer is set.
type reviewCheck struct {
	r    Reviewer
	cats []string
}

func (rc *reviewCheck) String() string { return "human review (" + strings.Join(rc.cats, ", ") + ")" }

// matched returns the categories of rc that the call's findings match.
func (rc *reviewCheck) matched(call *Call) []string {
	var out []string
	call.mu.Lock()
	defer call.mu.Unlock()
	for _, cat := range rc.cats {
		if cat == "*" {
			out = append(out, cat)
			continue
		}
		for _, f := range call.findings {
			if cat == f.Kind || cat == f.Kind+"/"+f.Type {
				out = append(out, cat)
				break
			}
		}
	}
	return out
}

func (rc *reviewCheck) CheckOutput(ctx context.Context, call *Call, out *Output) error {
	cats := rc.matched(call)
	if len(cats) == 0 {
		return nil
	}
	id, err := rc.r.Hold(ctx, Review{RequestID: call.ID, Caller: call.Caller, Model: call.Model,
		Endpoint: call.Endpoint, Categories: cats, Fields: slices.Clone(out.Fields)})
	if err != nil {
		return &Error{Kind: ErrOutputBlocked, Stage: StageOutput, Check: "review", Reason: "reviewer_failed", Categories: cats, Err: err}
	}
	return &Error{Kind: ErrHeldForReview, Stage: StageOutput, Check: "review", Reason: "held_for_review", Categories: cats, ReviewID: id}
}
