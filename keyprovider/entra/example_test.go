package entra_test

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/keyprovider/entra"
)

// exampleCredential stands in for an azidentity credential
// (azidentity.NewDefaultAzureCredential, a managed identity, ...).
type exampleCredential struct{}

func (exampleCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "eyJ0eXAiOiJKV1QifQ.example.signature", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func ExampleNew() {
	ctx := context.Background()
	p, err := entra.New(exampleCredential{}, entra.Options{})
	if err != nil {
		panic(err)
	}
	// Tokens expire: a Cache refreshes them ahead of their expiry.
	keys := keyprovider.NewCache(p, keyprovider.CacheOptions{})
	defer keys.Close(ctx)

	tok, err := keys.Key(ctx, keyprovider.Scope{Environment: "prod"})
	if err != nil {
		panic(err)
	}
	// A token is sent as "Authorization: Bearer", never as Azure's api-key.
	fmt.Println(tok.IsToken(), tok.Expires().After(time.Now()), tok)
	// Output: true true [REDACTED]
}
