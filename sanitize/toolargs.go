package sanitize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Limits on the arguments of a tool call.
const (
	// MaxToolArgumentBytes is the largest arguments string Validate
	// accepts: 1 MiB.
	MaxToolArgumentBytes = 1 << 20
	// MaxToolArgumentDepth is the deepest nesting of objects and arrays
	// Validate accepts.
	MaxToolArgumentDepth = 64
)

// ErrToolNotAllowed matches, through [errors.Is], a [ToolCallError] for a
// tool that is not in the [ToolSchemas].
var ErrToolNotAllowed = errors.New("sanitize: tool not allowed")

// ErrToolArguments matches, through [errors.Is], a [ToolCallError] for
// arguments that are not valid JSON, too large or too deep, or do not
// match the tool's schema.
var ErrToolArguments = errors.New("sanitize: invalid tool arguments")

// ToolCallError is the error [ToolSchemas.Validate] returns. Its text
// never holds the arguments: a schema violation is reported by the
// keyword locations in the schema ("/properties/n/type"), a syntax error
// by its byte offset.
type ToolCallError struct {
	// Tool is the tool's name, or "(invalid name)" when the model asked
	// for a name that is not a valid function name.
	Tool string
	// Reason is "not_allowed", "invalid_json", "too_large", "too_deep" or
	// "schema".
	Reason string
	// Keywords are the schema keyword locations that failed, for
	// Reason "schema", at most 8, sorted.
	Keywords []string
	// Err is a description that holds no argument value.
	Err error
}

func (e *ToolCallError) Error() string {
	s := "sanitize: tool call " + strconv.Quote(e.Tool) + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns e.Err.
func (e *ToolCallError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrToolNotAllowed] (Reason "not_allowed")
// or [ErrToolArguments] (every other reason).
func (e *ToolCallError) Is(target error) bool {
	if e.Reason == "not_allowed" {
		return target == ErrToolNotAllowed
	}
	return target == ErrToolArguments
}

// ToolSchemas is the allowlist of tools a model may call, with the JSON
// schema of each tool's arguments. Build it once with [NewToolSchemas]; it
// is immutable and safe for concurrent use. The zero value allows no tool.
type ToolSchemas struct {
	schemas map[string]*jsonschema.Schema
}

// NewToolSchemas compiles the parameter schema of each tool, keyed by
// function name. A value is what go-openai's FunctionDefinition.Parameters
// holds: a [json.RawMessage], []byte or string of JSON, a map[string]any,
// a *jsonschema.Definition from go-openai, or anything else that marshals
// to a JSON schema. A nil value means a tool without parameters: its
// arguments must be an empty object.
//
// Schemas without "$schema" are read as draft 2020-12. NewToolSchemas
// loads nothing: a "$ref" or "$schema" that points outside the schema
// (a URL, a file) is refused, so compiling cannot reach the network or the
// disk. It also refuses names that are not valid function names
// (1–64 of A–Z, a–z, 0–9, '_', '-').
func NewToolSchemas(tools map[string]any) (*ToolSchemas, error) {
	s := &ToolSchemas{schemas: make(map[string]*jsonschema.Schema, len(tools))}
	names := make([]string, 0, len(tools))
	for name := range tools {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		sch, err := compileTool(name, tools[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.schemas[name] = sch
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// refuseLoader is the compiler's URL loader: it loads nothing.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, errors.New("sanitize: schema reference " + quoteShort(url) + " refused: no schema is loaded from outside")
}

func validToolName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func compileTool(name string, params any) (*jsonschema.Schema, error) {
	if !validToolName(name) {
		return nil, errors.New("sanitize: tool " + quoteShort(name) + ": invalid function name")
	}
	var raw []byte
	switch p := params.(type) {
	case nil:
		raw = []byte(`{"type":"object","properties":{},"additionalProperties":false}`)
	case json.RawMessage:
		raw = p
	case []byte:
		raw = p
	case string:
		raw = []byte(p)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("sanitize: tool %q: schema: %w", name, err)
		}
		raw = b
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("sanitize: tool %q: schema is not JSON: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	loc := "mem:///tools/" + name + ".json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("sanitize: tool %q: schema: %w", name, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("sanitize: tool %q: schema: %w", name, err)
	}
	return sch, nil
}

// Tools returns the names of the allowed tools, sorted.
func (s *ToolSchemas) Tools() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.schemas))
	for n := range s.schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Validate checks a tool call from a model before the caller sees it: the
// tool must be in s, and arguments must be valid UTF-8 JSON of at most
// [MaxToolArgumentBytes] bytes nested at most [MaxToolArgumentDepth] deep
// that matches the tool's schema. It returns nil or a *[ToolCallError],
// whose text holds no argument value.
//
// JSON objects with a repeated key are read as encoding/json reads them
// (the last value wins); a caller that decodes the arguments with a parser
// that keeps the first value must use the same rule.
func (s *ToolSchemas) Validate(name, arguments string) error {
	var sch *jsonschema.Schema
	if s != nil {
		sch = s.schemas[name]
	}
	shown := name
	if !validToolName(name) {
		shown = "(invalid name)"
	}
	if sch == nil {
		return &ToolCallError{Tool: shown, Reason: "not_allowed"}
	}
	if len(arguments) > MaxToolArgumentBytes {
		return &ToolCallError{Tool: name, Reason: "too_large",
			Err: errors.New(strconv.Itoa(len(arguments)) + " bytes, limit " + strconv.Itoa(MaxToolArgumentBytes))}
	}
	if !utf8.ValidString(arguments) {
		return &ToolCallError{Tool: name, Reason: "invalid_json", Err: errors.New("not valid UTF-8")}
	}
	if depth := jsonDepth(arguments); depth > MaxToolArgumentDepth {
		return &ToolCallError{Tool: name, Reason: "too_deep",
			Err: errors.New("nesting deeper than " + strconv.Itoa(MaxToolArgumentDepth))}
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(arguments))
	if err != nil {
		msg := "malformed JSON"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			msg += " at byte " + strconv.FormatInt(se.Offset, 10)
		}
		return &ToolCallError{Tool: name, Reason: "invalid_json", Err: errors.New(msg)}
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		kws := []string{"(unknown)"}
		if errors.As(err, &ve) {
			kws = keywordLocations(ve)
		}
		return &ToolCallError{Tool: name, Reason: "schema", Keywords: kws,
			Err: errors.New("failed " + strings.Join(kws, ", "))}
	}
	return nil
}

// jsonDepth returns the deepest nesting of objects and arrays in a JSON
// text, skipping strings.
func jsonDepth(s string) int {
	depth, deepest := 0, 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// keywordLocations returns the schema keyword locations of the leaf
// errors of ve, relative to the tool's schema: never the instance values
// or the messages, which quote them.
func keywordLocations(ve *jsonschema.ValidationError) []string {
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		loc := e.SchemaURL
		if i := strings.IndexByte(loc, '#'); i >= 0 {
			loc = loc[i+1:]
		} else {
			loc = ""
		}
		if e.ErrorKind != nil {
			for _, k := range e.ErrorKind.KeywordPath() {
				loc += "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
			}
		}
		if loc == "" {
			loc = "/"
		}
		out = append(out, loc)
	}
	walk(ve)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > 8 {
		out = out[:8]
	}
	return out
}
