package secureaitest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The moderation categories of omni-moderation models, in the order the
// real API sends them, and whether they also apply to images.
func omniCategories() [13]struct {
	name  string
	image bool
} {
	return [...]struct {
		name  string
		image bool
	}{
		{"harassment", false},
		{"harassment/threatening", false},
		{"sexual", true},
		{"hate", false},
		{"hate/threatening", false},
		{"illicit", false},
		{"illicit/violent", false},
		{"self-harm/intent", true},
		{"self-harm/instructions", true},
		{"self-harm", true},
		{"sexual/minors", false},
		{"violence", true},
		{"violence/graphic", true},
	}
}

// flaggedCategory reports whether a flagged input is flagged for name.
func flaggedCategory(name string) bool {
	return name == "harassment" || name == "violence"
}

type moderationRequest struct {
	Input json.RawMessage `json:"input"`
	Model string          `json:"model"`
}

type moderationList struct {
	ID      string             `json:"id"`
	Model   string             `json:"model"`
	Results []moderationResult `json:"results"`
}

type moderationResult struct {
	Flagged                   bool       `json:"flagged"`
	Categories                orderedMap `json:"categories"`
	CategoryScores            orderedMap `json:"category_scores"`
	CategoryAppliedInputTypes orderedMap `json:"category_applied_input_types,omitempty"`
}

// orderedMap is a JSON object that keeps its keys in order.
type orderedMap []keyValue

type keyValue struct {
	key   string
	value any
}

func (m orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(kv.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// moderationInputs parses the "input" of a moderation request: a string, an
// array of strings (one result each), or an array of text and image parts
// (one result for all). It reports false for anything else.
func moderationInputs(raw json.RawMessage) (texts []string, image bool, ok bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, false, true
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		return ss, false, len(ss) > 0
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil || len(parts) == 0 {
		return nil, false, false
	}
	var text []string
	for _, p := range parts {
		switch p.Type {
		case "text":
			text = append(text, p.Text)
		case "image_url":
			image = true
		default:
			return nil, false, false
		}
	}
	return []string{strings.Join(text, "\n")}, image, true
}

// containsWord reports whether text contains word (lower case) as a whole
// word or phrase, ignoring case.
func containsWord(text, word string) bool {
	text = strings.ToLower(text)
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if !isWordRune(before) && !isWordRune(after) {
			return true
		}
		i = start + 1
	}
}

func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}

func (c *call) moderations() {
	var req moderationRequest
	if !c.decode(&req) {
		return
	}
	if req.Input == nil {
		c.missing("input")
		return
	}
	texts, image, ok := moderationInputs(req.Input)
	if !ok {
		c.writeError(http.StatusBadRequest, apiError{
			Message: "'$.input' is invalid. Please check the API reference: " +
				"https://platform.openai.com/docs/api-reference.",
			Type: "invalid_request_error",
		})
		return
	}
	model := req.Model
	if model == "" {
		model = "omni-moderation-latest"
	}
	legacy := strings.HasPrefix(model, "text-moderation")
	_, words := c.s.snapshot()

	resp := moderationList{ID: "modr-" + c.s.hexID(32), Model: model}
	tokens := 0
	for _, text := range texts {
		tokens += estimateTokens(len(text))
		flagged := false
		for _, w := range words {
			if containsWord(text, w) {
				flagged = true
				break
			}
		}
		res := moderationResult{Flagged: flagged}
		for i, cat := range omniCategories() {
			if legacy && strings.HasPrefix(cat.name, "illicit") {
				continue
			}
			hit := flagged && flaggedCategory(cat.name)
			score := float64(i+1) / 1e5 // low
			if hit {
				score = float64(97-i%3) / 100
			}
			res.Categories = append(res.Categories, keyValue{cat.name, hit})
			res.CategoryScores = append(res.CategoryScores, keyValue{cat.name, score})
			if !legacy {
				types := []string{"text"}
				if image && cat.image {
					types = append(types, "image")
				}
				res.CategoryAppliedInputTypes = append(res.CategoryAppliedInputTypes, keyValue{cat.name, types})
			}
		}
		resp.Results = append(resp.Results, res)
	}
	c.writeJSON(resp, tokens)
}
