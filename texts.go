package secureai

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
)

// walker visits the text fields of a request or response in a fixed order.
// In collect mode it appends them to fields; in apply mode it writes
// fields[i].Text back in the same order (into a deep copy of the request,
// never the caller's). Empty strings are skipped in both modes.
type walker struct {
	apply  bool
	fields []TextField
	next   int
	err    error
}

func (w *walker) str(p *string, role, path string) {
	if *p == "" {
		return
	}
	if !w.apply {
		w.fields = append(w.fields, TextField{Path: path, Role: role, Text: *p})
		return
	}
	if w.next < len(w.fields) {
		*p = w.fields[w.next].Text
		w.next++
	}
}

// strAt is str for the path prefix+suffix, which is built only for a
// field that is collected.
func (w *walker) strAt(p *string, role, prefix, suffix string) {
	if *p == "" {
		return
	}
	path := ""
	if !w.apply {
		path = prefix + suffix
	}
	w.str(p, role, path)
}

func (w *walker) strs(s []string, role, path string) {
	for i := range s {
		w.str(&s[i], role, path+"["+strconv.Itoa(i)+"]")
	}
}

// strMap visits the values of a string map in key order. In apply mode the
// map must be the caller's copy.
func (w *walker) strMap(m map[string]string, path string) {
	if len(m) == 0 {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		w.str(&v, "", path+"."+k)
		if w.apply {
			m[k] = v
		}
	}
}

// anyv visits the strings inside a value of unknown Go type (Responses
// input items, tool parameters, JSON schemas, metadata) through its JSON
// form, so that whatever type a caller used, every string is seen. In apply
// mode *p is replaced by the rewritten JSON tree.
func (w *walker) anyv(p *any, role, path string) {
	switch v := (*p).(type) {
	case nil:
		return
	case string:
		w.str(&v, role, path)
		if w.apply {
			*p = v
		}
		return
	}
	tree, ok := w.tree(*p)
	if !ok {
		return
	}
	tree = w.walkTree(tree, role, path)
	if w.apply {
		*p = tree
	}
}

// marshaler visits a json.Marshaler field (a JSON schema); in apply mode it
// is replaced by the rewritten JSON.
func (w *walker) marshaler(p *json.Marshaler, path string) {
	if *p == nil {
		return
	}
	var v any = *p
	tree, ok := w.tree(v)
	if !ok {
		return
	}
	tree = w.walkTree(tree, "", path)
	if w.apply {
		b, err := json.Marshal(tree)
		if err != nil {
			w.err = err
			return
		}
		*p = json.RawMessage(b)
	}
}

func (w *walker) tree(v any) (any, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		// A value that cannot be marshaled cannot be sent either; the
		// upstream call reports it.
		w.err = err
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var t any
	if err := dec.Decode(&t); err != nil {
		w.err = err
		return nil, false
	}
	return t, true
}

// structuralKeys hold identifiers and enums, not text: they are not handed
// to the checks.
var structuralKeys = map[string]bool{"type": true, "role": true, "status": true, "id": true,
	"call_id": true, "phase": true, "detail": true, "file_id": true, "item_id": true,
	"encrypted_content": true, "logprobs": true, "obfuscation": true}

func (w *walker) walkTree(t any, role, path string) any {
	switch v := t.(type) {
	case string:
		w.str(&v, role, path)
		return v
	case []any:
		for i := range v {
			v[i] = w.walkTree(v[i], role, path+"["+strconv.Itoa(i)+"]")
		}
		return v
	case map[string]any:
		r := role
		if s, ok := v["role"].(string); ok {
			r = s
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if structuralKeys[k] {
				continue
			}
			v[k] = w.walkTree(v[k], r, path+"."+k)
		}
		return v
	}
	return t
}

// changed reports whether any collected field differs from orig.
func changed(orig, now []TextField) bool {
	if len(orig) != len(now) {
		return true
	}
	for i := range orig {
		if orig[i].Text != now[i].Text {
			return true
		}
	}
	return false
}
