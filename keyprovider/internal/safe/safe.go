// Package safe holds the helpers that keyprovider and its provider packages
// share to build error messages that hold no key material.
package safe

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"
)

// maxText bounds the length of a store's message kept in an error.
const maxText = 200

// Text returns a store's message fit for an error string: printable, valid
// UTF-8, on one line, at most 200 bytes (then cut, with "…").
func Text(msg string) string {
	var b strings.Builder
	for _, r := range msg {
		if b.Len() >= maxText {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError:
			b.WriteByte('?')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// ContextCause returns context.DeadlineExceeded or context.Canceled if err,
// or else ctxErr, is or wraps one, and nil otherwise.
func ContextCause(err, ctxErr error) error {
	for _, e := range []error{err, ctxErr} {
		switch {
		case e == nil:
		case errors.Is(e, context.DeadlineExceeded):
			return context.DeadlineExceeded
		case errors.Is(e, context.Canceled):
			return context.Canceled
		}
	}
	return nil
}

// Join returns "a (b)", or whichever of a and b is not empty.
func Join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " (" + b + ")"
}

// Innermost returns the last error of err's Unwrap chain.
func Innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
