package keyprovider

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// extractKey returns the key held by a secret value: the value itself less
// one trailing newline when field is empty, else the string field of the
// JSON object it holds. The result may share memory with value. A failure
// is a *FetchError without Provider and Ref, whose message never quotes the
// value.
func extractKey(value []byte, field string) ([]byte, *FetchError) {
	if field == "" {
		return trimNewline(value), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
		return nil, &FetchError{Reason: ReasonMalformed, Detail: fmt.Sprintf("value (%d bytes) is not a JSON object; want one with the string field %q", len(value), field)}
	}
	defer clearRaw(obj)
	return fieldKey(obj, field)
}

// fieldKey returns the string field of a decoded JSON object, without
// making a Go string of it when it has no escapes.
func fieldKey(obj map[string]json.RawMessage, field string) ([]byte, *FetchError) {
	raw, ok := obj[field]
	if !ok {
		return nil, &FetchError{Reason: ReasonNotFound, Detail: fmt.Sprintf("no field %q in the %d-field object", field, len(obj)),
			Err: ErrNoKey}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return nil, &FetchError{Reason: ReasonMalformed, Detail: fmt.Sprintf("field %q is %s, want a string", field, jsonKind(raw))}
	}
	if len(raw) >= 2 && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
		out := make([]byte, len(raw)-2)
		copy(out, raw[1:len(raw)-1])
		return out, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, &FetchError{Reason: ReasonMalformed, Detail: fmt.Sprintf("field %q is not a valid JSON string", field)}
	}
	return []byte(s), nil
}

// clearRaw zeroes the values of a decoded object, which may hold keys.
func clearRaw(obj map[string]json.RawMessage) {
	for _, v := range obj {
		clear(v)
	}
}

// jsonKind names the kind of a JSON value by its first byte.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// ExtractKey returns the key held by a secret value read from a store,
// validated with [ValidateKey]: the value itself, less one trailing newline,
// when field is empty; else the string field of the JSON object the value
// holds, as in {"api_key": "sk-..."}. It zeroes value before it returns, and
// does not keep it.
//
// An error is a [*FetchError] whose Reason is [ReasonMalformed] (not a JSON
// object, the field not a string), [ReasonNotFound] (no such field, or an
// empty value; it wraps [ErrNoKey]) or [ReasonInvalidKey] (it wraps
// [ErrInvalidKey]). Its Provider and Ref are empty, for the caller to fill.
// It never quotes the value.
func ExtractKey(value []byte, field string) (Secret, error) {
	defer clear(value)
	raw, fe := extractKey(value, field)
	if fe == nil {
		var key Secret
		if key, fe = secretOf(raw); fe == nil {
			return key, nil
		}
	}
	return Secret{}, fe
}

// secretOf validates key and returns it as a Secret, zeroing key. A failure
// is a *FetchError without Provider and Ref.
func secretOf(key []byte) (Secret, *FetchError) {
	if len(key) == 0 {
		return Secret{}, &FetchError{Reason: ReasonNotFound, Detail: "the value is empty", Err: ErrNoKey}
	}
	if err := validateBytes(key, ""); err != nil {
		clear(key)
		return Secret{}, &FetchError{Reason: ReasonInvalidKey, Err: err}
	}
	return maskBytes(key), nil
}
