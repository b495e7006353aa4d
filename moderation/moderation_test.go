package moderation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/moderation"
	"github.com/secureai-go/secureai/secureaitest"
)

// omniBody is an omni-moderation answer shaped like the recorded ones in
// shared/wire/openai/moderation, with the given flags and scores; the other
// categories are unflagged with tiny scores.
func omniBody(flagged bool, cats map[string]bool, scores map[string]float64) string {
	c := map[string]bool{}
	s := map[string]float64{}
	for _, name := range moderation.Categories() {
		c[name] = cats[name]
		s[name] = 1e-6
		if v, ok := scores[name]; ok {
			s[name] = v
		}
	}
	b, err := json.Marshal(map[string]any{
		"id":    "modr-0d9740456c391e43c445bf0f010940c7",
		"model": "omni-moderation-latest",
		"results": []any{map[string]any{
			"flagged": flagged, "categories": c, "category_scores": s,
			"category_applied_input_types": map[string][]string{"illicit": {"text"}},
		}},
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// answer queues a 200 answer with body for the next request.
func answer(s *secureaitest.Server, body string) {
	s.Enqueue(secureaitest.Fault{Status: http.StatusOK, Body: body})
}

// sentInput returns the "input" of the i-th request s received.
func sentInput(t *testing.T, s *secureaitest.Server, i int) any {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) <= i {
		t.Fatalf("server got %d requests, want more than %d", len(reqs), i)
	}
	r := reqs[i]
	if r.Path != "/v1/moderations" || r.BearerKey() != testKey {
		t.Fatalf("request %d: path %q, key sent %v", i, r.Path, r.BearerKey() == testKey)
	}
	m, err := r.JSON()
	if err != nil {
		t.Fatalf("request %d: %v", i, err)
	}
	if m["model"] != moderation.DefaultModel {
		t.Errorf("request %d: model %v, want %s", i, m["model"], moderation.DefaultModel)
	}
	return m["input"]
}

func TestNewRefuses(t *testing.T) {
	client := &http.Client{}
	base := "https://api.openai.com/v1"
	match := func(string) bool { return false }
	tests := []struct {
		name string
		opts moderation.Options
		want string
	}{
		{"no client", moderation.Options{BaseURL: base}, "no HTTPClient"},
		{"no base", moderation.Options{HTTPClient: client}, "no BaseURL"},
		{"ftp base", moderation.Options{HTTPClient: client, BaseURL: "ftp://x/v1"}, "not an http"},
		{"relative base", moderation.Options{HTTPClient: client, BaseURL: "/v1"}, "not an http"},
		{"userinfo", moderation.Options{HTTPClient: client, BaseURL: "https://u:p@api.openai.com/v1"}, "user information"},
		{"query", moderation.Options{HTTPClient: client, BaseURL: base + "?x=1"}, "query"},
		{"model", moderation.Options{HTTPClient: client, BaseURL: base, Model: "omni moderation"}, "Model"},
		{"unknown category", moderation.Options{HTTPClient: client, BaseURL: base, Thresholds: map[string]float64{"spam": 0.5}}, "unknown category"},
		{"zero threshold", moderation.Options{HTTPClient: client, BaseURL: base, Thresholds: map[string]float64{"hate": 0}}, "(0, 1]"},
		{"big threshold", moderation.Options{HTTPClient: client, BaseURL: base, Thresholds: map[string]float64{"*": 1.5}}, "(0, 1]"},
		{"ignore flag alone", moderation.Options{HTTPClient: client, BaseURL: base, IgnoreProviderFlag: true}, "flag nothing"},
		{"empty rule name", moderation.Options{HTTPClient: client, BaseURL: base, Rules: []moderation.Rule{{Category: "c", Match: match}}}, "empty rule name"},
		{"nil match", moderation.Options{HTTPClient: client, BaseURL: base, Rules: []moderation.Rule{{Name: "r", Category: "c"}}}, "no Match"},
		{"empty category", moderation.Options{HTTPClient: client, BaseURL: base, Rules: []moderation.Rule{{Name: "r", Match: match}}}, "empty rule category"},
		{"duplicate rule", moderation.Options{HTTPClient: client, BaseURL: base, Rules: []moderation.Rule{
			{Name: "r", Category: "c", Match: match}, {Name: "r", Category: "c", Match: match}}}, "duplicate"},
		{"negative timeout", moderation.Options{HTTPClient: client, BaseURL: base, Timeout: -time.Second}, "negative Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := moderation.New(tt.opts)
			if err == nil || c != nil {
				t.Fatalf("New = %v, %v; want an error", c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error %q, want it to mention %q", err, tt.want)
			}
		})
	}

	t.Run("all at once", func(t *testing.T) {
		_, err := moderation.New(moderation.Options{Thresholds: map[string]float64{"spam": 2}})
		for _, want := range []string{"no HTTPClient", "no BaseURL", "unknown category"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("New error %v, want it to mention %q", err, want)
			}
		}
	})
	t.Run("defaults", func(t *testing.T) {
		c, err := moderation.New(moderation.Options{HTTPClient: client, BaseURL: base + "/"})
		if err != nil || c.Model() != moderation.DefaultModel {
			t.Fatalf("New = %v, %v", c, err)
		}
	})
}

func TestCheckPasses(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.FlagWords("stab")
	c := newChecker(t, s, moderation.Options{})

	v, err := c.Check(t.Context(), moderation.Input{Texts: []string{"What is the capital of France?"}})
	if err != nil || v.Flagged || v.Unavailable {
		t.Fatalf("Check = %+v, %v; want a pass", v, err)
	}
	if !strings.HasPrefix(v.ID, "modr-") || v.Model != moderation.DefaultModel || len(v.Scores) != 13 {
		t.Errorf("verdict %+v: want a modr- id, the model and 13 scores", v)
	}
	if got := sentInput(t, s, 0); got != "What is the capital of France?" {
		t.Errorf("one text sent as %#v, want a string", got)
	}

	t.Run("nothing to check", func(t *testing.T) {
		s.Reset()
		v, err := c.Check(t.Context(), moderation.Input{Texts: []string{"", ""}})
		if err != nil || v.Flagged || len(s.Requests()) != 0 {
			t.Fatalf("Check(empty) = %+v, %v, %d requests; want a pass without a request", v, err, len(s.Requests()))
		}
	})
}

func TestCheckProviderFlag(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.FlagWords("stab")
	c := newChecker(t, s, moderation.Options{})
	const text = "I will stab the canary-7f3a"

	v, err := c.Check(t.Context(), moderation.Input{Texts: []string{"hello", text}})
	if !errors.Is(err, moderation.ErrFlagged) || errors.Is(err, moderation.ErrUnavailable) {
		t.Fatalf("Check = %v; want ErrFlagged", err)
	}
	fe, ok := errors.AsType[*moderation.FlaggedError](err)
	if !ok {
		t.Fatalf("error %T, want *FlaggedError", err)
	}
	want := []string{"harassment", "violence"}
	if !slices.Equal(fe.Categories, want) || !slices.Equal(v.Categories, want) || !v.Flagged {
		t.Errorf("flagged %v / verdict %+v, want categories %v", fe.Categories, v, want)
	}
	if fe.ID != v.ID || !strings.HasPrefix(fe.ID, "modr-") || len(fe.Rules) != 0 {
		t.Errorf("FlaggedError %+v, verdict id %q", fe, v.ID)
	}
	if fe.Reason() != "flagged:harassment,violence" || fe.Code() != fe.Reason() {
		t.Errorf("Reason = %q, Code = %q", fe.Reason(), fe.Code())
	}
	if v.Scores["harassment"] < 0.9 {
		t.Errorf("harassment score %v, want the fake's high score", v.Scores["harassment"])
	}
	if got, ok := sentInput(t, s, 0).([]any); !ok || len(got) != 2 {
		t.Errorf("two texts sent as %#v, want an array of two strings", got)
	}
	for _, out := range []string{err.Error(), fmt.Sprintf("%v %+v %#v %q", err, err, err, err), fmt.Sprintf("%v %+v %#v", v, v, v)} {
		if strings.Contains(out, "canary") || strings.Contains(out, "stab") {
			t.Errorf("input text leaked: %s", out)
		}
	}
}

func TestCheckThresholds(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.FlagWords("stab")
	in := moderation.Input{Texts: []string{"a benign-ish text"}}

	// The fake scores category i (in API order) of a clean text
	// (i+1)/1e5: "illicit" is the 6th, 6e-5.
	t.Run("fake scores", func(t *testing.T) {
		for _, tt := range []struct {
			th   float64
			want bool
		}{{0.00006, true}, {0.00005, true}, {0.0001, false}} {
			c := newChecker(t, s, moderation.Options{Thresholds: map[string]float64{"illicit": tt.th}})
			v, err := c.Check(t.Context(), in)
			if got := errors.Is(err, moderation.ErrFlagged); got != tt.want {
				t.Fatalf("threshold %v: Check = %+v, %v; want flagged %v", tt.th, v, err, tt.want)
			}
			if tt.want && !slices.Equal(v.Categories, []string{"illicit"}) {
				t.Errorf("threshold %v: categories %v, want [illicit]", tt.th, v.Categories)
			}
		}
	})

	t.Run("mid score, provider not flagged", func(t *testing.T) {
		c := newChecker(t, s, moderation.Options{Thresholds: map[string]float64{"harassment": 0.3}})
		answer(s, omniBody(false, nil, map[string]float64{"harassment": 0.31}))
		_, err := c.Check(t.Context(), in)
		fe, ok := errors.AsType[*moderation.FlaggedError](err)
		if !ok || !slices.Equal(fe.Categories, []string{"harassment"}) {
			t.Fatalf("Check = %v; want flagged for harassment by the threshold", err)
		}
		answer(s, omniBody(false, nil, map[string]float64{"harassment": 0.29}))
		if v, err := c.Check(t.Context(), in); err != nil || v.Flagged {
			t.Fatalf("Check below threshold = %+v, %v; want a pass", v, err)
		}
	})

	t.Run("star", func(t *testing.T) {
		c := newChecker(t, s, moderation.Options{Thresholds: map[string]float64{"*": 0.5, "sexual": 0.1}})
		answer(s, omniBody(false, nil, map[string]float64{"sexual": 0.15, "hate": 0.4, "violence": 0.5}))
		_, err := c.Check(t.Context(), in)
		fe, ok := errors.AsType[*moderation.FlaggedError](err)
		if !ok || !slices.Equal(fe.Categories, []string{"sexual", "violence"}) {
			t.Fatalf("Check = %v; want sexual and violence", err)
		}
	})

	t.Run("ignore provider flag", func(t *testing.T) {
		c := newChecker(t, s, moderation.Options{IgnoreProviderFlag: true, Thresholds: map[string]float64{"harassment": 0.99}})
		v, err := c.Check(t.Context(), moderation.Input{Texts: []string{"stab"}})
		if err != nil || v.Flagged {
			t.Fatalf("Check = %+v, %v; want a pass: the fake's 0.97 is under 0.99", v, err)
		}
		c = newChecker(t, s, moderation.Options{IgnoreProviderFlag: true, Thresholds: map[string]float64{"violence": 0.9}})
		if _, err := c.Check(t.Context(), moderation.Input{Texts: []string{"stab"}}); !errors.Is(err, moderation.ErrFlagged) {
			t.Fatalf("Check = %v; want flagged for violence", err)
		}
	})
}

func TestCheckIllicit(t *testing.T) {
	s := secureaitest.NewServer(t)
	c := newChecker(t, s, moderation.Options{})

	v, err := c.Check(t.Context(), moderation.Input{Texts: []string{"clean"}})
	if err != nil || v.Scores["illicit"] != 6e-5 || v.Scores["illicit/violent"] != 7e-5 {
		t.Fatalf("Check = %+v, %v; want the fake's illicit scores decoded", v, err)
	}

	answer(s, omniBody(true, map[string]bool{"illicit": true, "illicit/violent": true},
		map[string]float64{"illicit": 0.87, "illicit/violent": 0.62}))
	v, err = c.Check(t.Context(), moderation.Input{Texts: []string{"how to pick a lock"}})
	if !errors.Is(err, moderation.ErrFlagged) || !slices.Equal(v.Categories, []string{"illicit", "illicit/violent"}) {
		t.Fatalf("Check = %+v, %v; want flagged for illicit and illicit/violent", v, err)
	}
	if v.Scores["illicit"] != 0.87 || v.ID != "modr-0d9740456c391e43c445bf0f010940c7" {
		t.Errorf("verdict %+v", v)
	}

	t.Run("new category", func(t *testing.T) {
		body := strings.Replace(omniBody(true, nil, nil), `"categories":{`, `"categories":{"weapons/3d":true,`, 1)
		body = strings.Replace(body, `"category_scores":{`, `"category_scores":{"weapons/3d":0.8,"bad key\u0000":0.2,`, 1)
		answer(s, body)
		v, err := c.Check(t.Context(), moderation.Input{Texts: []string{"x"}})
		if !errors.Is(err, moderation.ErrFlagged) || !slices.Equal(v.Categories, []string{"weapons/3d"}) {
			t.Fatalf("Check = %+v, %v; want a category the package does not know flagged", v, err)
		}
		if v.Scores["unknown"] != 0.2 {
			t.Errorf("unsafe category name kept: %v", v.Scores)
		}
	})

	t.Run("flagged without a category", func(t *testing.T) {
		answer(s, omniBody(true, nil, nil))
		v, err := c.Check(t.Context(), moderation.Input{Texts: []string{"x"}})
		fe, ok := errors.AsType[*moderation.FlaggedError](err)
		if !ok || !v.Flagged || fe.Reason() != "flagged" {
			t.Fatalf("Check = %+v, %v; want flagged", v, err)
		}
	})
}

func TestCheckRules(t *testing.T) {
	s := secureaitest.NewServer(t)
	kw, err := moderation.KeywordRule("competitors", "policy/competitors", "Acme Corp", "globex")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	custom := moderation.Rule{Name: "digits", Category: "policy/pii", Match: func(s string) bool {
		calls++
		return strings.ContainsAny(s, "0123456789")
	}}
	c := newChecker(t, s, moderation.Options{Rules: []moderation.Rule{kw, custom}})

	v, err := c.Check(t.Context(), moderation.Input{Texts: []string{"Is GLOBEX better?", "call 555"}})
	fe, ok := errors.AsType[*moderation.FlaggedError](err)
	if !ok || !errors.Is(err, moderation.ErrFlagged) {
		t.Fatalf("Check = %v; want a FlaggedError", err)
	}
	if !slices.Equal(fe.Rules, []string{"competitors", "digits"}) || !slices.Equal(fe.Categories, []string{"policy/competitors", "policy/pii"}) {
		t.Errorf("FlaggedError %+v", fe)
	}
	if !slices.Equal(v.Rules, fe.Rules) || v.Scores != nil || v.ID != "" {
		t.Errorf("verdict %+v", v)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("the fake got %d requests; a rule must decide without the network", n)
	}
	if want := "moderation: flagged: policy/competitors, policy/pii (rules: competitors, digits)"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}

	if _, err := c.Check(t.Context(), moderation.Input{Texts: []string{"acmeist"}}); err != nil {
		t.Fatalf("Check(no rule matches) = %v", err)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("the fake got %d requests, want 1 when no rule matches", n)
	}
}

func TestKeywordRule(t *testing.T) {
	r, err := moderation.KeywordRule("kw", "policy", "acme", "c++", "über", "two words")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want bool
	}{
		{"acme", true},
		{"ACME's price", true},
		{"(Acme)", true},
		{"acmeist", false},
		{"the_acme", false},
		{"acme2", false},
		{"I like c++ a lot", true},
		{"ÜBER alles", true},
		{"überall", false},
		{"two  words", false},
		{"say two words now", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := r.Match(tt.text); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}

	for _, bad := range [][]string{{"kw", "policy"}, {"", "policy", "x"}, {"kw", "", "x"}, {"kw", "policy", " "}, {"kw", "policy", "\xff"}} {
		if _, err := moderation.KeywordRule(bad[0], bad[1], bad[2:]...); err == nil {
			t.Errorf("KeywordRule(%q) accepted", bad)
		}
	}
}

func TestCheckImages(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.FlagWords("stab")
	c := newChecker(t, s, moderation.Options{})

	in := moderation.Input{
		Texts:     []string{"caption", "second text"},
		ImageURLs: []string{"https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="},
	}
	v, err := c.Check(t.Context(), in)
	if err != nil || v.Flagged {
		t.Fatalf("Check = %+v, %v", v, err)
	}
	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("the fake got %d requests, want 3 (one per image, one for the other text)", len(reqs))
	}
	first, _ := json.Marshal(sentInput(t, s, 0))
	want := `[{"text":"caption","type":"text"},{"image_url":{"url":"https://example.com/cat.png"},"type":"image_url"}]`
	if string(first) != want {
		t.Errorf("first request input %s, want %s", first, want)
	}
	second, _ := json.Marshal(sentInput(t, s, 1))
	if want := `[{"image_url":{"url":"data:image/png;base64,iVBORw0KGgo="},"type":"image_url"}]`; string(second) != want {
		t.Errorf("second request input %s, want %s", second, want)
	}
	if got := sentInput(t, s, 2); got != "second text" {
		t.Errorf("third request input %#v, want the second text", got)
	}

	t.Run("flagged caption", func(t *testing.T) {
		_, err := c.Check(t.Context(), moderation.Input{Texts: []string{"stab"}, ImageURLs: []string{"https://example.com/a.png"}})
		if !errors.Is(err, moderation.ErrFlagged) {
			t.Fatalf("Check = %v, want flagged", err)
		}
	})

	t.Run("invalid url", func(t *testing.T) {
		s.Reset()
		for _, u := range []string{"", "file:///etc/passwd", "javascript:alert(1)", "https://", "data:text/html,x"} {
			_, err := c.Check(t.Context(), moderation.Input{ImageURLs: []string{u}})
			if !errors.Is(err, moderation.ErrInvalidInput) || errors.Is(err, moderation.ErrUnavailable) {
				t.Errorf("Check(image %q) = %v, want ErrInvalidInput", u, err)
			}
		}
		if len(s.Requests()) != 0 {
			t.Errorf("invalid images were sent")
		}
	})
}

func TestCheckLongText(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.FlagWords("stab")
	c := newChecker(t, s, moderation.Options{})

	long := strings.Repeat("héllo wörld ", 8000) // ~100 KB
	v, err := c.Check(t.Context(), moderation.Input{Texts: []string{long + "then stab"}})
	if !errors.Is(err, moderation.ErrFlagged) {
		t.Fatalf("Check = %+v, %v; want the last chunk flagged", v, err)
	}
	in, ok := sentInput(t, s, 0).([]any)
	if !ok || len(in) < 4 {
		t.Fatalf("long text sent as %T of %d, want an array of chunks", in, len(in))
	}
	for i, x := range in {
		if s := x.(string); len(s) > 32<<10 || strings.ContainsRune(s, '\uFFFD') {
			t.Errorf("chunk %d: %d bytes or cut inside a rune", i, len(s))
		}
	}

	t.Run("many texts", func(t *testing.T) {
		s.Reset()
		texts := make([]string, 40)
		for i := range texts {
			texts[i] = fmt.Sprint("text ", i)
		}
		if _, err := c.Check(t.Context(), moderation.Input{Texts: texts}); err != nil {
			t.Fatal(err)
		}
		if n := len(s.Requests()); n != 2 {
			t.Errorf("40 texts took %d requests, want 2 (32 per request)", n)
		}
	})
}

func TestCheckFailures(t *testing.T) {
	truncated := omniBody(false, nil, nil)
	truncated = truncated[:len(truncated)/2]
	tests := []struct {
		name     string
		fault    secureaitest.Fault
		reason   string
		status   int
		openable bool // FailOpen lets the input through
		timeout  bool
	}{
		{"500", secureaitest.Fault{Status: 500}, "status_500", 500, true, false},
		{"503 retry after", secureaitest.Fault{Status: 503, Header: http.Header{"Retry-After": {"3"}}}, "status_503", 503, true, false},
		{"429", secureaitest.Fault{Status: 429, Header: http.Header{"Retry-After-Ms": {"1500"}}}, "status_429", 429, true, false},
		{"400", secureaitest.Fault{Status: 400}, "status_400", 400, false, false},
		{"401", secureaitest.Fault{Status: 401}, "status_401", 401, false, false},
		{"timeout", secureaitest.Fault{Latency: time.Minute}, "timeout", 0, true, true},
		{"reset", secureaitest.Fault{Reset: true}, "network", 0, true, false},
		{"malformed", secureaitest.Fault{Status: 200, Body: "not json at all"}, "malformed_response", 200, true, false},
		{"truncated", secureaitest.Fault{Status: 200, Body: truncated}, "malformed_response", 200, true, false},
		{"echo", secureaitest.Fault{EchoRequest: true}, "malformed_response", 200, true, false},
		{"no results", secureaitest.Fault{Status: 200, Body: `{"id":"modr-1","results":[]}`}, "malformed_response", 200, true, false},
		{"no scores", secureaitest.Fault{Status: 200, Body: `{"results":[{"flagged":false,"categories":{}}]}`}, "malformed_response", 200, true, false},
		{"score out of range", secureaitest.Fault{Status: 200, Body: `{"results":[{"category_scores":{"hate":-0.5}}]}`}, "malformed_response", 200, true, false},
		{"too large", secureaitest.Fault{Status: 200, Body: `{"id":"` + strings.Repeat("x", 1<<20) + `"}`}, "response_too_large", 200, true, false},
	}
	s := secureaitest.NewServer(t)
	const text = "canary-5d2e some input"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, failOpen := range []bool{false, true} {
				s.Reset()
				s.Enqueue(tt.fault)
				timeout := 10 * time.Second
				if tt.timeout {
					timeout = 50 * time.Millisecond
				}
				c := newChecker(t, s, moderation.Options{FailOpen: failOpen, Timeout: timeout})
				v, err := c.Check(t.Context(), moderation.Input{Texts: []string{text}})
				if failOpen && tt.openable {
					if err != nil || !v.Unavailable || v.Flagged || v.Err == nil {
						t.Fatalf("fail open: Check = %+v, %v; want an Unavailable verdict", v, err)
					}
					err = v.Err
				} else if err == nil || v.Unavailable || v.Flagged {
					t.Fatalf("fail open %v: Check = %+v, %v; want an error", failOpen, v, err)
				}
				e, ok := errors.AsType[*moderation.Error](err)
				if !ok || !errors.Is(err, moderation.ErrUnavailable) || errors.Is(err, moderation.ErrFlagged) {
					t.Fatalf("error %T %v, want a *moderation.Error answering ErrUnavailable", err, err)
				}
				if e.Reason != tt.reason || e.Code() != tt.reason || e.StatusCode != tt.status || e.Timeout() != tt.timeout {
					t.Errorf("error %+v: reason %q status %d timeout %v, want %q %d %v", e, e.Reason, e.StatusCode, e.Timeout(), tt.reason, tt.status, tt.timeout)
				}
				msg := fmt.Sprintf("%v %+v %#v %q", err, err, err, err)
				if strings.Contains(msg, "canary") || strings.Contains(msg, testKey) || strings.Contains(msg, "127.0.0.1") {
					t.Errorf("error text leaks input, key or URL: %s", msg)
				}
			}
		})
	}

	t.Run("retry after", func(t *testing.T) {
		c := newChecker(t, s, moderation.Options{})
		s.Enqueue(secureaitest.Fault{Status: 429, Header: http.Header{"Retry-After-Ms": {"1500"}}},
			secureaitest.Fault{Status: 503, Header: http.Header{"Retry-After": {"3"}}},
			secureaitest.Fault{Status: 500, Header: http.Header{"Retry-After": {"3"}}})
		for _, want := range []time.Duration{1500 * time.Millisecond, 3 * time.Second, 0} {
			_, err := c.Check(t.Context(), moderation.Input{Texts: []string{"x"}})
			if e, ok := errors.AsType[*moderation.Error](err); !ok || e.RetryAfter() != want {
				t.Errorf("Check = %v, want RetryAfter %v", err, want)
			}
		}
	})

	t.Run("server closed", func(t *testing.T) {
		s2 := secureaitest.NewServer(t)
		c := newChecker(t, s2, moderation.Options{})
		s2.Close()
		_, err := c.Check(t.Context(), moderation.Input{Texts: []string{"x"}})
		if e, ok := errors.AsType[*moderation.Error](err); !ok || e.Reason != "network" || !errors.Is(err, moderation.ErrUnavailable) {
			t.Fatalf("Check = %v, want a network error", err)
		}
	})
}

func TestCheckContext(t *testing.T) {
	s := secureaitest.NewServer(t)

	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		c := newChecker(t, s, moderation.Options{FailOpen: true})
		_, err := c.Check(ctx, moderation.Input{Texts: []string{"x"}})
		if !errors.Is(err, context.Canceled) || errors.Is(err, moderation.ErrUnavailable) {
			t.Fatalf("Check = %v, want context.Canceled", err)
		}
		if len(s.Requests()) != 0 {
			t.Errorf("a request was sent after the context ended")
		}
	})

	t.Run("cancelled during", func(t *testing.T) {
		s.Enqueue(secureaitest.Fault{Latency: time.Hour})
		c := newChecker(t, s, moderation.Options{FailOpen: true, Timeout: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			v, err := c.Check(ctx, moderation.Input{Texts: []string{"x"}})
			if v.Unavailable {
				err = errors.New("fail open let a cancelled check through")
			}
			done <- err
		}()
		for len(s.Requests()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		err := <-done
		e, ok := errors.AsType[*moderation.Error](err)
		if !ok || !errors.Is(err, context.Canceled) || errors.Is(err, moderation.ErrUnavailable) || e.Reason != "canceled" {
			t.Fatalf("Check = %v, want a canceled *Error", err)
		}
	})

	t.Run("caller deadline", func(t *testing.T) {
		s.Enqueue(secureaitest.Fault{Latency: time.Hour})
		c := newChecker(t, s, moderation.Options{FailOpen: true, Timeout: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		_, err := c.Check(ctx, moderation.Input{Texts: []string{"x"}})
		e, ok := errors.AsType[*moderation.Error](err)
		if !ok || !errors.Is(err, context.DeadlineExceeded) || !e.Timeout() || errors.Is(err, moderation.ErrUnavailable) {
			t.Fatalf("Check = %v, want the caller's deadline", err)
		}
	})
}

func TestCheckSocket(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.FlagWords("stab")
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := moderation.New(moderation.Options{
		HTTPClient: &http.Client{Transport: authTransport{tr}},
		BaseURL:    s.URL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(t.Context(), moderation.Input{Texts: []string{"stab"}}); !errors.Is(err, moderation.ErrFlagged) {
		t.Fatalf("Check over loopback = %v, want flagged", err)
	}
}

func TestCheckConcurrent(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.FlagWords("stab")
	kw, _ := moderation.KeywordRule("kw", "policy", "forbidden")
	c := newChecker(t, s, moderation.Options{Rules: []moderation.Rule{kw}, Thresholds: map[string]float64{"*": 0.9}})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			text := []string{"fine", "stab", "forbidden"}[i%3]
			_, err := c.Check(t.Context(), moderation.Input{Texts: []string{text}})
			if (text == "fine") != (err == nil) {
				t.Errorf("Check(%q) = %v", text, err)
			}
		})
	}
	wg.Wait()
}

func BenchmarkCheck(b *testing.B) {
	s := secureaitest.NewServer(b)
	c := newChecker(b, s, moderation.Options{Thresholds: map[string]float64{"sexual": 0.2}})
	in := moderation.Input{Texts: []string{strings.Repeat("A benign prompt about Go. ", 160)}} // 4 KB
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Texts[0])))
	for i := 0; b.Loop(); i++ {
		if _, err := c.Check(b.Context(), in); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			s.Reset() // keep the fake's request log small
		}
	}
}

func BenchmarkCheckRule(b *testing.B) {
	kw, _ := moderation.KeywordRule("kw", "policy", "forbidden", "acme corp", "globex")
	s := secureaitest.NewServer(b)
	c := newChecker(b, s, moderation.Options{Rules: []moderation.Rule{kw}})
	in := moderation.Input{Texts: []string{strings.Repeat("A prompt about Go. ", 215) + "forbidden"}} // 4 KB
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Texts[0])))
	for b.Loop() {
		if _, err := c.Check(b.Context(), in); !errors.Is(err, moderation.ErrFlagged) {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawGoOpenAI is the same moderation call made with go-openai
// against the same fake, for the ratio to BenchmarkCheck.
func BenchmarkRawGoOpenAI(b *testing.B) {
	s := secureaitest.NewServer(b)
	cfg := openai.DefaultConfig(testKey)
	cfg.BaseURL = s.URL()
	cfg.HTTPClient = &http.Client{Transport: s.Transport()}
	client := openai.NewClientWithConfig(cfg)
	req := openai.ModerationRequest{Model: moderation.DefaultModel, Input: strings.Repeat("A benign prompt about Go. ", 160)}
	b.ReportAllocs()
	b.SetBytes(int64(len(req.Input)))
	for i := 0; b.Loop(); i++ {
		if _, err := client.Moderations(b.Context(), req); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			s.Reset()
		}
	}
}
