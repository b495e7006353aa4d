package awssm_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/keyprovider/awssm"
	"github.com/secureai-go/secureai/secureaitest"
)

// Keys per scope from AWS Secrets Manager, cached, and a rotation through
// the AWSPENDING stage, here against secureaitest's fake Secrets Manager.
func ExampleNew() {
	ctx := context.Background()
	sm := secureaitest.StartSecretsManager()
	defer sm.Close()
	sm.PutSecret("openai/prod/hr", `{"api_key":"sk-example-hr-old"}`)

	// A program gets its aws.Config from config.LoadDefaultConfig(ctx);
	// here it points at the fake.
	cfg := aws.Config{
		Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "example"}, nil
		}),
		BaseEndpoint: aws.String(sm.URL()),
		HTTPClient:   &http.Client{Transport: sm.Transport()},
	}
	p, err := awssm.New(cfg, awssm.Options{
		Secrets: keyprovider.ScopeMap(map[keyprovider.Scope]awssm.Ref{
			{Environment: "prod", Group: "hr"}: {ID: "openai/prod/hr", Field: "api_key"},
		}),
	})
	if err != nil {
		panic(err)
	}
	keys := keyprovider.NewCache(p, keyprovider.CacheOptions{TTL: 5 * time.Minute})
	defer keys.Close(ctx)

	hr := keyprovider.Scope{Environment: "prod", Group: "hr"}
	key, info, _ := keys.KeyInfo(ctx, hr)
	fmt.Println(key.Fingerprint(), info.Source)

	// Rotation: the new key goes in as AWSPENDING and is verified first.
	id := sm.PutSecretVersion("openai/prod/hr", `{"api_key":"sk-example-hr-new"}`, awssm.StagePending)
	pending, _ := p.WithStage(awssm.StagePending).Key(ctx, hr)
	fmt.Println("pending:", pending.Fingerprint())
	sm.MoveStage("openai/prod/hr", awssm.StageCurrent, id) // the old version becomes AWSPREVIOUS

	// Caches pick the new key up at their next refresh, at most TTL later;
	// until then they serve the old key, which stays valid until it is
	// revoked, after TTL + Grace.
	key, _ = keys.Key(ctx, hr)
	fmt.Println("cached:", key.Fingerprint(), "fetches:", sm.Fetches("openai/prod/hr"))

	_, err = keys.Key(ctx, keyprovider.Scope{Environment: "prod", Group: "finance"})
	fmt.Println(err)

	// Output:
	// kfp_7110fcf51d5d5fb5 aws-secretsmanager:openai/prod/hr@AWSCURRENT
	// pending: kfp_4e3a85ce68e0e235
	// cached: kfp_7110fcf51d5d5fb5 fetches: 2
	// keyprovider: key unavailable for scope prod/finance: keyprovider: no key configured for scope prod/finance
}
