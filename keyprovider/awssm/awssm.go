// Package awssm is a key provider that reads OpenAI API keys from AWS
// Secrets Manager with the AWS SDK for Go v2, one secret per
// [keyprovider.Scope]. It is a package of its own so that programs that do
// not use AWS do not build the AWS SDK.
//
// A [Provider] fetches on every call: put it behind a [keyprovider.Cache],
// which refreshes keys ahead of expiry, serves a stale key through a short
// outage and refetches after a key was rejected:
//
//	cfg, err := config.LoadDefaultConfig(ctx) // the program reads its AWS set-up; secureai reads none
//	...
//	sm, err := awssm.New(cfg, awssm.Options{
//		Secrets: keyprovider.ScopeMap(map[keyprovider.Scope]awssm.Ref{
//			{Environment: "prod", Group: "hr"}:      {ID: "openai/prod/hr", Field: "api_key"},
//			{Environment: "prod", Group: "finance"}: {ID: "openai/prod/finance", Field: "api_key"},
//		}),
//	})
//	...
//	keys := keyprovider.NewCache(sm, keyprovider.CacheOptions{TTL: 5 * time.Minute})
//	defer keys.Close(ctx)
//
// The rotation procedure with staging labels is in keyprovider's package
// documentation, under "Rotation".
package awssm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/keyprovider/internal/safe"
)

// Version stages of AWS Secrets Manager that a rotation moves between
// versions of a secret.
const (
	StageCurrent  = "AWSCURRENT"  // the version in use
	StagePending  = "AWSPENDING"  // the new version during a rotation, until it is verified
	StagePrevious = "AWSPREVIOUS" // the version in use before the last rotation
)

// API is the part of the AWS SDK's *secretsmanager.Client that
// [Provider] uses. Tests and programs may pass their own
// implementation in [Options.Client].
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// Ref names the Secrets Manager secret that holds a scope's key.
type Ref struct {
	// ID is the secret's name or ARN (GetSecretValue's SecretId).
	ID string

	// Field, if not empty, is the field of the JSON object the secret
	// holds that holds the key, as in {"api_key": "sk-..."}. If empty, the
	// whole secret is the key, less one trailing newline.
	Field string

	// VersionStage is the staging label of the version to read: empty
	// means [StageCurrent]; [StagePending] reads the new version of a
	// rotation in progress, to verify it.
	VersionStage string
}

func (s Ref) stage() string {
	if s.VersionStage == "" {
		return StageCurrent
	}
	return s.VersionStage
}

// ref names s in errors and Info: "id@stage" or "id@stage#field".
func (s Ref) ref() string {
	r := s.ID + "@" + s.stage()
	if s.Field != "" {
		r += "#" + s.Field
	}
	return r
}

// Options configures a [Provider].
type Options struct {
	// Secrets maps a scope to the secret that holds its key; ok false
	// means that the scope has no key, and Key fails with a
	// [*keyprovider.ScopeError] (never another scope's key).
	// [keyprovider.ScopeMap] makes one from a map. It
	// must be safe for concurrent use. Required.
	Secrets func(keyprovider.Scope) (secret Ref, ok bool)

	// Client, if not nil, is used instead of a client built from the
	// aws.Config, for example a *secretsmanager.Client with options of
	// your own, or a fake.
	Client API
}

// Provider is a [keyprovider.Provider] that reads keys from AWS Secrets
// Manager, one secret per scope. Create it with [New].
//
// It calls GetSecretValue on every Key call: put it behind a
// [keyprovider.Cache]. It implements [keyprovider.InfoProvider]
// (Info.Version is the secret's VersionId) and [keyprovider.Versioner]
// (with DescribeSecret, which reads no secret material), which the Cache
// uses to renew an unchanged key without reading it again. It does not
// implement [keyprovider.Invalidator]; the Cache in front does.
//
// Errors are [*keyprovider.FetchError] values (Provider
// "aws-secretsmanager") that keep the AWS error code and message, never the
// SDK's error itself, which holds the HTTP response.
//
// The zero value is not usable. A Provider is immutable and safe for
// concurrent use.
type Provider struct {
	client  API
	secrets func(keyprovider.Scope) (Ref, bool)
	stage   string // overrides each secret's VersionStage when not empty
}

// New returns a Provider that reads keys from AWS Secrets Manager with a
// client built from cfg, which the caller has configured (region,
// credentials), typically with config.LoadDefaultConfig; secureai reads
// no environment itself. It returns an error if o.Secrets is nil, or if
// o.Client is nil and cfg has no Region.
func New(cfg aws.Config, o Options) (*Provider, error) {
	if o.Secrets == nil {
		return nil, errors.New("awssm: Options.Secrets is nil")
	}
	client := o.Client
	if client == nil {
		if cfg.Region == "" {
			return nil, errors.New("awssm: aws.Config has no Region")
		}
		client = secretsmanager.NewFromConfig(cfg)
	}
	return &Provider{client: client, secrets: o.Secrets}, nil
}

// WithStage returns a provider that reads the version with the staging
// label stage of every scope's secret, for example [StagePending] to
// verify the new key of a rotation before it becomes [StageCurrent].
func (p *Provider) WithStage(stage string) *Provider {
	q := *p
	q.stage = stage
	return &q
}

// secret returns the secret of scope.
func (p *Provider) secret(scope keyprovider.Scope) (Ref, error) {
	if p == nil || p.client == nil {
		return Ref{}, errors.New("awssm: Provider not created by New")
	}
	s, ok := p.secrets(scope)
	if !ok || s.ID == "" {
		return Ref{}, &keyprovider.ScopeError{Scope: scope}
	}
	if p.stage != "" {
		s.VersionStage = p.stage
	}
	return s, nil
}

// Key returns the key of scope, read with GetSecretValue.
func (p *Provider) Key(ctx context.Context, scope keyprovider.Scope) (keyprovider.Secret, error) {
	k, _, err := p.KeyInfo(ctx, scope)
	return k, err
}

// KeyInfo is Key that also returns the key's [keyprovider.Info]: Source is
// "aws-secretsmanager:<id>@<stage>" and Version the VersionId.
func (p *Provider) KeyInfo(ctx context.Context, scope keyprovider.Scope) (keyprovider.Secret, keyprovider.Info, error) {
	s, err := p.secret(scope)
	if err != nil {
		return keyprovider.Secret{}, keyprovider.Info{}, err
	}
	out, err := p.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(s.ID),
		VersionStage: aws.String(s.stage()),
	})
	if err != nil {
		return keyprovider.Secret{}, keyprovider.Info{}, awsError(ctx, s, err)
	}
	var value []byte
	switch {
	case out.SecretString != nil:
		value = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		value = out.SecretBinary
	}
	key, err := keyprovider.ExtractKey(value, s.Field) // zeroes value
	if err != nil {
		if fe, ok := errors.AsType[*keyprovider.FetchError](err); ok {
			fe.Provider, fe.Ref = "aws-secretsmanager", s.ref()
		}
		return keyprovider.Secret{}, keyprovider.Info{}, err
	}
	info := keyprovider.Info{Source: "aws-secretsmanager:" + s.ID + "@" + s.stage(), FetchedAt: time.Now()}
	if out.VersionId != nil {
		info.Version = *out.VersionId
	}
	return key, info, nil
}

// Version returns the VersionId of the version of scope's secret that has
// the secret's staging label, read with DescribeSecret, which returns no
// secret material.
func (p *Provider) Version(ctx context.Context, scope keyprovider.Scope) (string, error) {
	s, err := p.secret(scope)
	if err != nil {
		return "", err
	}
	out, err := p.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.ID)})
	if err != nil {
		return "", awsError(ctx, s, err)
	}
	for id, stages := range out.VersionIdsToStages {
		for _, st := range stages {
			if st == s.stage() {
				return id, nil
			}
		}
	}
	return "", &keyprovider.FetchError{Provider: "aws-secretsmanager", Ref: s.ref(), Reason: keyprovider.ReasonNotFound,
		Detail: "no version has the staging label " + s.stage(), Err: keyprovider.ErrNoKey}
}

// awsError reduces an error of the AWS SDK to a FetchError that keeps the
// error code, HTTP status and message, but not the SDK's error values,
// which hold the HTTP response (and through it the signed request).
func awsError(ctx context.Context, s Ref, err error) error {
	fe := &keyprovider.FetchError{Provider: "aws-secretsmanager", Ref: s.ref(), Reason: keyprovider.ReasonUnavailable}
	if c := safe.ContextCause(err, ctx.Err()); c != nil {
		fe.Reason, fe.Err = keyprovider.ErrorClass(c), c
		return fe
	}
	var status int
	if re, ok := errors.AsType[*awshttp.ResponseError](err); ok {
		status = re.HTTPStatusCode()
		if re.RequestID != "" {
			fe.Detail = "request " + safe.Text(re.RequestID)
		}
	}
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		fe.Code = safe.Text(ae.ErrorCode())
		if msg := safe.Text(ae.ErrorMessage()); msg != "" {
			fe.Detail = safe.Join(msg, fe.Detail)
		}
		switch ae.ErrorCode() {
		case "ResourceNotFoundException":
			fe.Reason, fe.Err = keyprovider.ReasonNotFound, keyprovider.ErrNoKey
		case "InvalidRequestException": // e.g. the secret is scheduled for deletion
			fe.Reason, fe.Err = keyprovider.ReasonNotFound, keyprovider.ErrNoKey
		case "InvalidParameterException", "ValidationException":
			fe.Reason = keyprovider.ReasonMalformed
		case "AccessDeniedException", "AccessDenied", "DecryptionFailure", "UnrecognizedClientException",
			"InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature", "IncompleteSignatureException",
			"MissingAuthenticationToken", "MissingAuthenticationTokenException",
			"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId":
			fe.Reason = keyprovider.ReasonDenied
		default:
			fe.Reason = keyprovider.ReasonUnavailable
		}
		return fe
	}
	if status != 0 {
		fe.Code = strconv.Itoa(status)
	}
	if ne, ok := errors.AsType[*net.OpError](err); ok {
		fe.Detail = safe.Join(safe.Text(ne.Error()), fe.Detail)
		return fe
	}
	// Other SDK errors (a response that does not decode, say) may quote
	// the response body, which holds the secret: keep only their type.
	fe.Detail = safe.Join(fmt.Sprintf("request failed (%T)", safe.Innermost(err)), fe.Detail)
	return fe
}

// String returns "awssm.Provider", or
// "awssm.Provider(AWSPENDING)" for a provider made by
// [Provider.WithStage].
func (p *Provider) String() string {
	if p == nil || p.stage == "" {
		return "awssm.Provider"
	}
	return "awssm.Provider(" + p.stage + ")"
}

// GoString returns the same as [Provider.String].
func (p *Provider) GoString() string { return p.String() }
