// Package entra is a key provider of Microsoft Entra ID access tokens for
// Azure OpenAI, from an azcore.TokenCredential the program builds (with
// azidentity: a managed identity, workload identity or
// DefaultAzureCredential). It is a package of its own so that programs that
// do not use Azure do not build the Azure SDK; it depends on azcore only.
//
// Its keys are bearer tokens ([keyprovider.NewToken]):
// [keyprovider.Secret.IsToken] is true, so the secureai transport sends
// them as "Authorization: Bearer" and never as an api-key header, and
// [keyprovider.Secret.Expires] is the token's expiry, so that a
// [keyprovider.Cache] in front refreshes the token ahead of it and never
// serves it after it:
//
//	cred, err := azidentity.NewManagedIdentityCredential(nil)
//	...
//	tokens, err := entra.New(cred, entra.Options{})
//	...
//	keys := keyprovider.NewCache(tokens, keyprovider.CacheOptions{RefreshAhead: 5 * time.Minute})
//	defer keys.Close(ctx)
package entra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/keyprovider/internal/safe"
)

// DefaultScope is the OAuth scope of Azure OpenAI (Azure AI services) that
// [New] asks tokens for by default.
const DefaultScope = "https://cognitiveservices.azure.com/.default"

// Options configures a [Provider].
type Options struct {
	// Scopes are the OAuth scopes to request; empty means [DefaultScope].
	Scopes []string

	// TenantID, if not empty, asks for a token of that tenant rather than
	// the credential's default one.
	TenantID string
}

// Provider is a [keyprovider.Provider] of Entra ID access tokens. It
// returns the same token for every scope; give each scope its own
// credential with a [keyprovider.Router] if needed. Create it with [New].
//
// It calls GetToken on every Key call: put it behind a [keyprovider.Cache]
// (azidentity's credentials cache tokens too, but other credentials may
// not). It implements [keyprovider.InfoProvider].
//
// Errors are [*keyprovider.FetchError] values (Provider "azure-entra") that
// keep the credential's error type and the first line of its message.
//
// The zero value is not usable. A Provider is immutable and safe for
// concurrent use if the credential is.
type Provider struct {
	cred azcore.TokenCredential
	opts policy.TokenRequestOptions
}

// New returns a Provider of Entra ID bearer tokens from cred. It returns an
// error if cred is nil.
func New(cred azcore.TokenCredential, o Options) (*Provider, error) {
	if cred == nil {
		return nil, errors.New("entra: nil TokenCredential")
	}
	scopes := slices.Clone(o.Scopes)
	if len(scopes) == 0 {
		scopes = []string{DefaultScope}
	}
	return &Provider{cred: cred, opts: policy.TokenRequestOptions{Scopes: scopes, TenantID: o.TenantID}}, nil
}

// Key returns a token from the credential, whatever the scope.
func (p *Provider) Key(ctx context.Context, scope keyprovider.Scope) (keyprovider.Secret, error) {
	k, _, err := p.KeyInfo(ctx, scope)
	return k, err
}

// KeyInfo is Key that also returns the token's [keyprovider.Info]: Source
// is "azure-entra:<scopes>".
func (p *Provider) KeyInfo(ctx context.Context, scope keyprovider.Scope) (keyprovider.Secret, keyprovider.Info, error) {
	if p == nil || p.cred == nil {
		return keyprovider.Secret{}, keyprovider.Info{}, errors.New("entra: Provider not created by New")
	}
	ref := strings.Join(p.opts.Scopes, " ")
	fail := func(reason, detail string, err error) (keyprovider.Secret, keyprovider.Info, error) {
		return keyprovider.Secret{}, keyprovider.Info{}, &keyprovider.FetchError{
			Provider: "azure-entra", Ref: ref, Reason: reason, Detail: detail, Err: err}
	}
	opts := p.opts
	opts.Scopes = slices.Clone(p.opts.Scopes) // the credential may keep or change it
	tok, err := p.cred.GetToken(ctx, opts)
	if err != nil {
		if c := safe.ContextCause(err, ctx.Err()); c != nil {
			return fail(keyprovider.ErrorClass(c), "", c)
		}
		// azidentity's errors quote the identity endpoint's answer,
		// which holds no token; keep their type and first line.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return fail(keyprovider.ReasonDenied, fmt.Sprintf("%T: %s", err, safe.Text(msg)), nil)
	}
	now := time.Now()
	switch {
	case tok.Token == "":
		return fail(keyprovider.ReasonNotFound, "the credential returned an empty token", keyprovider.ErrNoKey)
	case !tok.ExpiresOn.IsZero() && !tok.ExpiresOn.After(now):
		return fail(keyprovider.ReasonMalformed, "the credential returned a token that already expired", nil)
	}
	if err := keyprovider.ValidateKey(tok.Token); err != nil {
		return fail(keyprovider.ReasonInvalidKey, "", err)
	}
	return keyprovider.NewToken(tok.Token, tok.ExpiresOn), keyprovider.Info{Source: "azure-entra:" + ref, FetchedAt: now}, nil
}

// String returns "entra.Provider(<scopes>)".
func (p *Provider) String() string {
	if p == nil {
		return "entra.Provider()"
	}
	return "entra.Provider(" + strings.Join(p.opts.Scopes, " ") + ")"
}

// GoString returns the same as [Provider.String].
func (p *Provider) GoString() string { return p.String() }
