package moderation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultModel is the moderation model a [Checker] uses unless
// [Options.Model] names another.
const DefaultModel = "omni-moderation-latest"

// DefaultTimeout bounds one [Checker.Check] unless [Options.Timeout] says
// otherwise.
const DefaultTimeout = 5 * time.Second

// Options configures a [Checker]; see [New]. The zero value of each field
// but HTTPClient and BaseURL has a documented default.
type Options struct {
	// Model is the moderation model. Default: [DefaultModel]. Legacy
	// "text-moderation-*" models score no "illicit" categories and take no
	// images.
	Model string

	// Thresholds maps a category to the score at or above which the
	// category counts as flagged, whatever the provider's own flag says: a
	// way to be stricter than the provider (a children's app might flag
	// "sexual" at 0.1). The key "*" applies to every category without its
	// own entry, also to categories the provider adds later. Keys must be
	// one of [Categories] or "*"; values must be in (0, 1]. Default: none.
	Thresholds map[string]float64

	// IgnoreProviderFlag makes the Checker ignore the provider's own
	// per-category flags, so that only Thresholds (and Rules) decide: a
	// way to be more lenient than the provider in some category. New
	// refuses it without Thresholds, which would flag nothing. Default:
	// false, the provider's flags count.
	IgnoreProviderFlag bool

	// Rules are local policy rules, run on the texts in order before the
	// endpoint is asked; when one matches, the input is flagged and the
	// endpoint is not called. Default: none.
	Rules []Rule

	// FailOpen lets an input through (a nil error and a [Verdict] with
	// Unavailable set) when the endpoint is unavailable: a network error,
	// a timeout, a 408, 429 or 5xx answer, or an answer that cannot be
	// read. Even then it never lets through an input the endpoint refused
	// as invalid (another 4xx), which may be crafted to dodge moderation.
	// Default: false, fail closed: the check returns an [*Error] that
	// answers [ErrUnavailable].
	//
	// Background: failing open keeps the service up when the moderation
	// endpoint is down, at the price of unmoderated inputs for as long as
	// it is down; an attacker who can slow the endpoint down can choose
	// when that is.
	FailOpen bool

	// Timeout bounds one Check, all its requests together. Default:
	// [DefaultTimeout]. A shorter deadline of the caller's context wins.
	Timeout time.Duration

	// HTTPClient sends the requests. The Checker sets no credentials: the
	// client's transport injects the API key (and enforces egress and TLS
	// rules). Its own retries, if any, happen inside Timeout; the Checker
	// does not retry. Required.
	HTTPClient *http.Client

	// BaseURL is the API's base URL, such as "https://api.openai.com/v1";
	// requests go to BaseURL + "/moderations". It must be an http or https
	// URL with a host and no user information, query or fragment.
	// Required.
	BaseURL string
}

// Categories returns the categories of the omni-moderation models, the
// keys that [Options.Thresholds] accepts (besides "*"), in the order the
// API sends them.
func Categories() []string {
	return []string{
		"harassment", "harassment/threatening", "sexual", "hate", "hate/threatening",
		"illicit", "illicit/violent", "self-harm/intent", "self-harm/instructions",
		"self-harm", "sexual/minors", "violence", "violence/graphic",
	}
}

// Input is what a [Checker] checks: texts (the redacted prompt, or an
// answer for output moderation) and image URLs (http, https or
// data:image URLs). Empty texts are skipped.
type Input struct {
	Texts     []string
	ImageURLs []string
}

// Verdict is the outcome of a [Checker.Check]. It never holds the checked
// text.
type Verdict struct {
	// Flagged reports whether the input was flagged.
	Flagged bool
	// Categories are the flagged categories, sorted.
	Categories []string
	// Scores holds, per category, the highest score over all results (a
	// long text is scored in chunks). Nil when the endpoint was not asked.
	Scores map[string]float64
	// Model is the model that scored the input, as the endpoint named it.
	Model string
	// ID is the id of the first moderation response ("modr-..."), empty
	// when the endpoint was not asked.
	ID string
	// Rules are the names of the local rules that matched, sorted.
	Rules []string
	// Unavailable reports that the endpoint failed and [Options.FailOpen]
	// let the input through unchecked; Err says why.
	Unavailable bool
	// Err is the endpoint failure that FailOpen let through, else nil.
	Err error
}

// Checker checks inputs with local rules and the OpenAI moderation
// endpoint. Most callers want [Checker.Check].
//
// A Checker is immutable once built, and safe for concurrent use by
// multiple goroutines. The zero value is not usable: build one with [New].
type Checker struct {
	model      string
	endpoint   string
	client     *http.Client
	thresholds map[string]float64 // without "*"
	star       float64            // the "*" threshold; 0 when none
	ignoreFlag bool
	rules      []Rule
	failOpen   bool
	timeout    time.Duration
}

// New returns a Checker for opts. It refuses (and reports every problem at
// once): a nil HTTPClient; a BaseURL that is not an http(s) URL with a host,
// or that carries user information, a query or a fragment; a Model with
// characters other than letters, digits and "/-_.:"; a threshold for an
// unknown category or outside (0, 1]; IgnoreProviderFlag without
// Thresholds; a rule with an empty, duplicate or unprintable name, an empty
// or unprintable category, or a nil Match; a negative Timeout.
func New(opts Options) (*Checker, error) {
	var errs []error
	c := &Checker{
		model:      orDefault(opts.Model, DefaultModel),
		client:     opts.HTTPClient,
		thresholds: make(map[string]float64, len(opts.Thresholds)),
		ignoreFlag: opts.IgnoreProviderFlag,
		failOpen:   opts.FailOpen,
		timeout:    opts.Timeout,
	}
	if c.client == nil {
		errs = append(errs, errors.New("moderation: no HTTPClient"))
	}
	endpoint, err := endpointURL(opts.BaseURL)
	if err != nil {
		errs = append(errs, err)
	}
	c.endpoint = endpoint
	if safeName(c.model) == "" {
		errs = append(errs, errors.New("moderation: invalid Model name"))
	}
	known := Categories()
	for _, k := range slices.Sorted(maps.Keys(opts.Thresholds)) {
		v := opts.Thresholds[k]
		if k != "*" && !slices.Contains(known, k) {
			errs = append(errs, errors.New("moderation: threshold for unknown category "+quoteLabel(k)))
			continue
		}
		if !(v > 0 && v <= 1) || math.IsNaN(v) {
			errs = append(errs, errors.New("moderation: threshold for "+quoteLabel(k)+" must be in (0, 1]"))
			continue
		}
		if k == "*" {
			c.star = v
		} else {
			c.thresholds[k] = v
		}
	}
	if opts.IgnoreProviderFlag && len(opts.Thresholds) == 0 {
		errs = append(errs, errors.New("moderation: IgnoreProviderFlag without Thresholds would flag nothing"))
	}
	names := make(map[string]bool, len(opts.Rules))
	for i, r := range opts.Rules {
		if err := checkLabel("rule name", r.Name); err != nil {
			errs = append(errs, errors.New("moderation: rule "+strconv.Itoa(i)+": "+strings.TrimPrefix(err.Error(), "moderation: ")))
		} else if names[r.Name] {
			errs = append(errs, errors.New("moderation: duplicate rule name "+quoteLabel(r.Name)))
		}
		names[r.Name] = true
		if err := checkLabel("rule category", r.Category); err != nil {
			errs = append(errs, errors.New("moderation: rule "+strconv.Itoa(i)+": "+strings.TrimPrefix(err.Error(), "moderation: ")))
		}
		if r.Match == nil {
			errs = append(errs, errors.New("moderation: rule "+strconv.Itoa(i)+" has no Match func"))
		}
	}
	c.rules = slices.Clone(opts.Rules)
	switch {
	case opts.Timeout < 0:
		errs = append(errs, errors.New("moderation: negative Timeout"))
	case opts.Timeout == 0:
		c.timeout = DefaultTimeout
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// endpointURL checks base and returns the moderation endpoint under it.
func endpointURL(base string) (string, error) {
	if base == "" {
		return "", errors.New("moderation: no BaseURL")
	}
	u, err := url.Parse(base)
	switch {
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return "", errors.New("moderation: BaseURL is not an http or https URL with a host")
	case u.User != nil:
		return "", errors.New("moderation: BaseURL must not carry user information")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", errors.New("moderation: BaseURL must not carry a query or fragment")
	}
	return strings.TrimRight(base, "/") + "/moderations", nil
}

// Model returns the moderation model the Checker asks for.
func (c *Checker) Model() string { return c.model }

// Check checks in, first with the local rules (a match decides without a
// network call), then with the moderation endpoint. Use it on a redacted
// prompt before the completion, and on the answer for output moderation.
//
// It returns:
//   - a nil error and a Verdict that is not Flagged when the input passes
//     (also for an input with no text and no image, which costs nothing);
//   - a [*FlaggedError] (errors.Is [ErrFlagged]) and a Flagged Verdict when
//     a rule, the provider's flag or a threshold flags it;
//   - an [*Error] that answers [ErrUnavailable] when the endpoint fails
//     under fail-closed, and a nil error with a Verdict whose Unavailable is
//     set under [Options.FailOpen];
//   - an [*Error] that answers [ErrInvalidInput] for an image URL that is
//     not http, https or data:image;
//   - an [*Error] that wraps ctx's error when ctx ends first, whatever
//     FailOpen says.
//
// Check runs at most [Options.Timeout]. A long text is scored in chunks
// and the highest score per category counts. Each image costs one request;
// texts cost one request per 32 chunks. Requests are sent one after
// another, and Check stops at the first flagged answer.
func (c *Checker) Check(ctx context.Context, in Input) (Verdict, error) {
	if err := ctx.Err(); err != nil {
		return Verdict{Model: c.model}, abandoned(err)
	}
	if err := checkImages(in.ImageURLs); err != nil {
		return Verdict{Model: c.model}, err
	}
	if v := c.local(in); v.Flagged {
		return v, v.flaggedError()
	}
	batches := plan(in)
	if len(batches) == 0 {
		return Verdict{Model: c.model}, nil
	}

	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v := Verdict{Model: c.model, Scores: make(map[string]float64, 16)}
	flagged := make(map[string]bool)
	for _, b := range batches {
		resp, e := c.send(tctx, b)
		if e != nil {
			switch {
			case ctx.Err() != nil:
				e = abandoned(ctx.Err())
			case tctx.Err() != nil && e.Reason == reasonNetwork:
				e = &Error{Reason: reasonTimeout, Err: context.DeadlineExceeded}
			}
			if c.failOpen && e.failOpenable() {
				return Verdict{Model: c.model, Unavailable: true, Err: e}, nil
			}
			return Verdict{Model: c.model}, e
		}
		if c.judge(&v, resp, flagged); v.Flagged {
			break
		}
	}
	if !v.Flagged {
		return v, nil
	}
	v.Categories = slices.Sorted(maps.Keys(flagged))
	return v, v.flaggedError()
}

// abandoned returns the error for a check whose caller's context ended.
func abandoned(err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Reason: reasonDeadline, Err: err}
	}
	return &Error{Reason: reasonCanceled, Err: err}
}

// checkImages refuses an image URL that is not http, https or data:image.
func checkImages(urls []string) error {
	for i, u := range urls {
		l := strings.ToLower(u[:min(len(u), len("data:image/"))])
		ok := strings.HasPrefix(l, "data:image/")
		if !ok && (strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")) {
			p, err := url.Parse(u)
			ok = err == nil && p.Host != ""
		}
		if !ok {
			return &Error{Reason: reasonInput, Err: errors.New("moderation: image " + strconv.Itoa(i) + " is not an http, https or data:image URL")}
		}
	}
	return nil
}

// local runs the rules on the texts.
func (c *Checker) local(in Input) Verdict {
	v := Verdict{Model: c.model}
	for _, r := range c.rules {
		for _, t := range in.Texts {
			if t != "" && r.Match(t) {
				v.Flagged = true
				v.Rules = append(v.Rules, r.Name)
				if !slices.Contains(v.Categories, r.Category) {
					v.Categories = append(v.Categories, r.Category)
				}
				break
			}
		}
	}
	slices.Sort(v.Rules)
	slices.Sort(v.Categories)
	return v
}

func (v *Verdict) flaggedError() error {
	return &FlaggedError{Categories: slices.Clone(v.Categories), Rules: slices.Clone(v.Rules), ID: v.ID}
}

// threshold returns the threshold for a category, and whether it has one.
func (c *Checker) threshold(name string) (float64, bool) {
	if t, ok := c.thresholds[name]; ok {
		return t, true
	}
	return c.star, c.star > 0
}

// judge folds one answer into v and the flagged set.
func (c *Checker) judge(v *Verdict, r *response, flagged map[string]bool) {
	if v.ID == "" {
		v.ID = safeName(r.ID)
	}
	if m := safeName(r.Model); m != "" {
		v.Model = m
	}
	for _, res := range r.Results {
		for name, score := range res.CategoryScores {
			name = categoryName(name)
			if s, ok := v.Scores[name]; !ok || score > s {
				v.Scores[name] = score
			}
			if t, ok := c.threshold(name); ok && score >= t {
				flagged[name] = true
				v.Flagged = true
			}
		}
		if c.ignoreFlag {
			continue
		}
		for name, on := range res.Categories {
			if on {
				flagged[categoryName(name)] = true
				v.Flagged = true
			}
		}
		// A result flagged without a flagged category still counts.
		v.Flagged = v.Flagged || res.Flagged
	}
}

func categoryName(s string) string {
	if s = safeName(s); s == "" {
		return unknownCategory
	}
	return s
}

var errNotJSON = errors.New("moderation: response is not the expected JSON")

// send posts one batch and decodes the answer.
func (c *Checker) send(ctx context.Context, b batch) (*response, *Error) {
	body, err := json.Marshal(request{Model: c.model, Input: b.input})
	if err != nil { // strings and parts always marshal
		return nil, &Error{Reason: reasonInput, Err: errors.New("moderation: input does not encode")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Reason: reasonNetwork, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, &Error{Reason: reasonNetwork, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
		return nil, statusError(resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, &Error{StatusCode: resp.StatusCode, Reason: reasonNetwork, Err: err}
	}
	if len(data) > maxResponse {
		return nil, &Error{StatusCode: resp.StatusCode, Reason: reasonTooLarge}
	}
	r, err := decode(data, b.results, b.parts)
	if err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errNotJSON // json's messages may quote a byte of the body
		}
		return nil, &Error{StatusCode: resp.StatusCode, Reason: reasonMalformed, Err: err}
	}
	return r, nil
}
