// Package keyprovider supplies the API keys that secureai sends to OpenAI,
// and makes those keys hard to leak.
//
// A [Provider] returns the key for a [Scope] (the deployment environment and
// the caller's group). [Static] serves one fixed key, [Env] reads an
// environment variable, and [ProviderFunc] adapts any function, for example
// one that reads a secrets manager.
//
// # What a Secret guarantees
//
// Keys travel as [Secret] values, never as plain strings. A Secret:
//
//   - formats as "[REDACTED]" (or "[EMPTY]" when it holds no key) under every
//     fmt verb, including %#v, %x and %d, also when it sits inside a struct,
//     slice or map;
//   - marshals to "[REDACTED]" through encoding/json, encoding/text and
//     encoding/xml, and logs as "[REDACTED]" through log/slog;
//   - refuses encoding/gob with [ErrNotSerializable];
//   - does not keep the key in plain form in its fields: the key is stored
//     XOR-masked with a random pad of the same length, so a reflective walk
//     over a value holding a Secret (a debugger dump, a generic struct
//     printer, fmt printing an unexported field) does not find the key bytes;
//   - gives the key back only through [Secret.Reveal], which callers should
//     use at the last moment, to build the Authorization header.
//
// [Secret.Fingerprint] identifies a key in logs and audit records without
// revealing it. Providers never put a key in an error message or in their
// String output.
//
// Masking defends against accidental disclosure, not against an attacker who
// can read the process memory: the key is in plain form while a request is
// built, and the Go runtime may leave copies in freed memory.
//
// # How the secureai transport uses providers
//
// The secureai transport calls [Provider.Key] on every request, with the
// client's environment and the caller's group as the Scope, and reveals the
// key only to set the request's Authorization header. Key is therefore on the
// hot path: implementations must be safe for concurrent use and cheap after
// the first call, caching what they fetch.
//
// # Refreshing a rejected key
//
// A provider that can obtain a different key (one that reads a variable or a
// secrets manager that can be rotated) may also implement [Invalidator]. When
// OpenAI rejects a key with HTTP 401, the transport calls Invalidate with the
// rejected key. If Invalidate returns nil, the transport asks Key again and
// retries the request once. If the provider does not implement Invalidator,
// or Invalidate returns an error wrapping [ErrCannotRefresh], the transport
// returns the 401 to its caller without retrying.
package keyprovider
