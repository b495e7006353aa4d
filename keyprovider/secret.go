package keyprovider

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

const (
	redactedText      = "[REDACTED]"
	emptyText         = "[EMPTY]"
	fingerprintPrefix = "kfp_"
)

// Secret holds an API key that cannot be printed by accident.
//
// Every fmt verb, encoding/json, encoding/text, encoding/xml and log/slog
// render a Secret as "[REDACTED]", or "[EMPTY]" when it holds no key;
// encoding/gob refuses it. The key is stored XOR-masked with a random pad, so
// the plain key bytes are not in the Secret's fields. The only way to get the
// key back is [Secret.Reveal].
//
// The zero value is an empty Secret, equal to NewSecret(""). A Secret is an
// immutable value: it is safe to copy and to use from many goroutines at
// once. Secrets cannot be compared with ==; use [Secret.Equal].
type Secret struct {
	masked []byte // key XOR pad; nil for the empty Secret
	pad    []byte // random, len(pad) == len(masked)
	fp     string // Fingerprint, computed once
}

// NewSecret returns a Secret holding key. It copies key into a masked form
// and does not retain the string. NewSecret("") returns the zero Secret.
func NewSecret(key string) Secret {
	if key == "" {
		return Secret{}
	}
	pad := make([]byte, len(key))
	rand.Read(pad) // Never fails since Go 1.24: it crashes the program instead.
	masked := make([]byte, len(key))
	for i := range len(key) {
		masked[i] = key[i] ^ pad[i]
	}
	sum := sha256.Sum256([]byte(key))
	return Secret{
		masked: masked,
		pad:    pad,
		fp:     fingerprintPrefix + hex.EncodeToString(sum[:8]),
	}
}

// Reveal returns the key. It is the only way to get the key back: call it at
// the last moment (to set a request header) and do not store or log the
// result. It returns "" for an empty Secret.
func (s Secret) Reveal() string {
	if len(s.masked) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s.masked))
	for i, m := range s.masked {
		b.WriteByte(m ^ s.pad[i])
	}
	return b.String()
}

// IsZero reports whether s holds no key: it is true for the zero Secret and
// for NewSecret("").
func (s Secret) IsZero() bool { return len(s.masked) == 0 }

// Len returns the length of the key in bytes.
func (s Secret) Len() int { return len(s.masked) }

// Equal reports whether s and o hold the same key. The comparison takes time
// that depends on the keys' lengths but not on their contents. Two empty
// Secrets are equal.
func (s Secret) Equal(o Secret) bool {
	if len(s.masked) != len(o.masked) {
		return false
	}
	var diff byte
	for i := range s.masked {
		diff |= s.masked[i] ^ s.pad[i] ^ o.masked[i] ^ o.pad[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// equalString reports, like Equal, whether s holds the key v, without
// building a string from s.
func (s Secret) equalString(v string) bool {
	if len(s.masked) != len(v) {
		return false
	}
	var diff byte
	for i := range s.masked {
		diff |= s.masked[i] ^ s.pad[i] ^ v[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// Fingerprint returns "kfp_" followed by the first 16 hex digits of the
// SHA-256 of the key, or "" for an empty Secret. It is stable for a given key
// and is safe to log and to store in audit records, to tell keys apart. It
// does not protect a low-entropy secret such as a password from guessing;
// API keys are long random strings, for which it is safe.
func (s Secret) Fingerprint() string { return s.fp }

// redacted returns the text every output form of s uses.
func (s Secret) redacted() string {
	if s.IsZero() {
		return emptyText
	}
	return redactedText
}

// String returns "[REDACTED]", or "[EMPTY]" when s holds no key. It never
// returns the key.
func (s Secret) String() string { return s.redacted() }

// GoString returns the same as [Secret.String], so that %#v does not print
// the key.
func (s Secret) GoString() string { return s.redacted() }

// Format implements [fmt.Formatter]. Every verb, including %v, %+v, %#v, %s,
// %x, %X and %d, writes the same text as [Secret.String]; %q writes it
// quoted. A width pads the text with spaces, on the right with the '-' flag.
func (s Secret) Format(f fmt.State, verb rune) {
	out := s.redacted()
	if verb == 'q' {
		out = strconv.Quote(out)
	}
	if w, ok := f.Width(); ok && w > len(out) {
		pad := strings.Repeat(" ", w-len(out))
		if f.Flag('-') {
			out += pad
		} else {
			out = pad + out
		}
	}
	io.WriteString(f, out)
}

// MarshalJSON implements [encoding/json.Marshaler]. It returns the JSON
// string "[REDACTED]", or "[EMPTY]" when s holds no key, never the key.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(s.redacted())), nil
}

// MarshalText implements [encoding.TextMarshaler], which encoding/xml and
// map-key encoding also use. It returns "[REDACTED]", or "[EMPTY]" when s
// holds no key, never the key.
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(s.redacted()), nil
}

// LogValue implements [slog.LogValuer]. It returns the string "[REDACTED]",
// or "[EMPTY]" when s holds no key, never the key.
func (s Secret) LogValue() slog.Value {
	return slog.StringValue(s.redacted())
}

// GobEncode implements [encoding/gob.GobEncoder] only to refuse: it always
// returns an error wrapping [ErrNotSerializable], so encoding/gob cannot copy
// a key out of the process. Secrets are not meant to be persisted.
func (s Secret) GobEncode() ([]byte, error) {
	return nil, fmt.Errorf("%w: gob", ErrNotSerializable)
}
