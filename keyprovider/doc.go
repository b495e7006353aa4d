// Package keyprovider supplies the API keys that secureai sends to OpenAI,
// and makes those keys hard to leak.
//
// A [Provider] returns the key for a [Scope] (the deployment environment,
// the caller's group and tier). The providers:
//
//   - [Static] serves one fixed key and [Env] reads an environment variable;
//   - [File] reads a mounted secret file (Kubernetes, Docker) and notices
//     when it changes;
//   - [Vault] reads HashiCorp Vault's KV v2 engine, with token or AppRole
//     authentication;
//   - package awssm (keyprovider/awssm) reads AWS Secrets Manager, and
//     package entra (keyprovider/entra) gets Microsoft Entra ID bearer
//     tokens for Azure OpenAI ([NewToken]); they are packages of their own
//     so that programs that do not use them do not build their SDKs;
//   - [ProviderFunc] adapts any function.
//
// Two providers wrap others. [Router] picks a provider per scope, so that
// one group's key is never used for another group's calls; a scope with no
// route is an error ([ErrNoScope]), never a fallback to some other key.
// [Cache] caches keys per scope, refreshes them ahead of expiry in the
// background, asks the store once however many callers wait, serves a
// stale key through a short outage and refetches a key the API rejected.
// The providers that read a remote store fetch on every call and are meant
// to sit behind a Cache:
//
//	vault, err := keyprovider.Vault(keyprovider.VaultOptions{
//		Address: "https://vault.example.com:8200",
//		AppRole: &keyprovider.VaultAppRole{RoleID: roleID, SecretID: secretID},
//		Secrets: keyprovider.ScopeMap(map[keyprovider.Scope]keyprovider.VaultRef{
//			{Environment: "prod", Group: "hr"}:      {Path: "openai/prod/hr"},
//			{Environment: "prod", Group: "finance"}: {Path: "openai/prod/finance"},
//		}),
//	})
//	...
//	keys := keyprovider.NewCache(vault, keyprovider.CacheOptions{TTL: 5 * time.Minute})
//	defer keys.Close(ctx)
//
// Every provider checks the shape of each key it loads ([ValidateKey]): no
// whitespace or control characters inside, a bounded length; a bad key is
// an [ErrInvalidKey] error that does not contain it. Errors from a store
// are [*FetchError] values with a short class ([ErrorClass]) for audit.
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
// A Secret made by [NewToken] ([Secret.IsToken], as the entra package
// returns) is a bearer token: it is always sent as "Authorization: Bearer",
// never as Azure's api-key header, and it expires at [Secret.Expires]. A
// provider that implements [InfoProvider] ([Cache] and [Router] do) also
// says where a key came from and whether a refresh failed ([Info]), which
// the transport records in its audit event as [ErrorClass] of
// [Info.RefreshErr], never as the error's text. A provider that implements
// [Closer] ([Cache], [Router], [VaultProvider]) is closed by the client
// that owns it.
//
// # Refreshing a rejected key
//
// A provider that can obtain a different key (one that reads a variable, a
// file, or a secrets manager through a [Cache]) may also implement
// [Invalidator]. When
// OpenAI rejects a key with HTTP 401, the transport calls Invalidate with the
// rejected key. If Invalidate returns nil, the transport asks Key again and
// retries the request once. If the provider does not implement Invalidator,
// or Invalidate returns an error wrapping [ErrCannotRefresh], the transport
// returns the 401 to its caller without retrying.
//
// # Rotation
//
// A key is rotated without a failed call when, at every moment, the key
// that any replica may still be serving from its cache is accepted by
// OpenAI. Old and new keys must therefore overlap: create the new key,
// verify it, switch to it, wait until no cache can still hold the old one
// (the Cache's TTL plus its Grace, plus the longest request), then revoke
// the old one. If the old key is revoked early, the calls that still use it
// get a 401: the transport invalidates it (the Cache fetches the new key at
// once, compare-and-swap) and retries once, so they still succeed as long
// as the store already holds the new key.
//
// AWS Secrets Manager, with staging labels (package awssm):
//
//  1. Create a new API key in the OpenAI dashboard (the old one stays
//     valid).
//  2. Store it as a new version labelled AWSPENDING: aws secretsmanager
//     put-secret-value --secret-id openai/prod --secret-string ...
//     --version-stages AWSPENDING. Replicas go on reading AWSCURRENT.
//  3. Verify it: make a call with awssm's Provider.WithStage(awssm.StagePending)
//     (for example one small request through a client built on it); do not
//     go on if it fails.
//  4. Switch: aws secretsmanager update-secret-version-stage --secret-id
//     openai/prod --version-stage AWSCURRENT --move-to-version-id <new>
//     --remove-from-version-id <old>. The old version becomes AWSPREVIOUS
//     and stays readable. Each Cache picks the new version up at its next
//     refresh (at most TTL later; with the DescribeSecret version check, a
//     refresh of an unchanged secret reads no secret material).
//  5. Wait at least TTL + Grace, then revoke the old key in the OpenAI
//     dashboard. An emergency revocation (a leaked key) need not wait: the
//     401 path above fetches the new key at once.
//
// HashiCorp Vault KV v2, with versions ([Vault]):
//
//  1. Create a new API key in the OpenAI dashboard.
//  2. Verify it before it goes live: write it as a new version (vault kv
//     put secret/openai/prod api_key=...) and read that version alone with
//     a provider whose [VaultRef] pins Version, or verify the key before
//     writing it. Readers of the latest version pick it up at their next
//     refresh, at most TTL later.
//  3. Wait at least TTL + Grace, then revoke the old key. The old version
//     stays in Vault's history (vault kv rollback restores it if the new key
//     turns out bad); destroy it with vault kv destroy once it is revoked.
//
// A mounted file ([File]):
//
//  1. Create a new API key and verify it with a one-off call.
//  2. Replace the file atomically: Kubernetes does so when the Secret object
//     is updated (the kubelet writes a new directory and swaps the "..data"
//     link; this takes up to the kubelet's sync period, about a minute);
//     elsewhere, write a temporary file in the same directory and rename it
//     over the old one. Each FileProvider notices the change within its
//     CheckInterval; a Cache in front, within its TTL.
//  3. Wait at least the kubelet's sync period + CheckInterval + TTL + Grace,
//     then revoke the old key.
package keyprovider
