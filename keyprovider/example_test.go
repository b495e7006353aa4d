package keyprovider_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/secureai-go/secureai/keyprovider"
)

// A Secret logs, prints and marshals as "[REDACTED]"; only Reveal returns
// the key, and Fingerprint identifies it safely.
func ExampleSecret() {
	removeTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: removeTime}))

	key := keyprovider.NewSecret("sk-example-not-a-real-key")
	logger.Info("calling OpenAI", "key", key, "fingerprint", key.Fingerprint())
	fmt.Printf("%v %#v %q\n", key, key, key)
	fmt.Println(len(key.Reveal()) == key.Len())
	fmt.Println(keyprovider.Secret{})

	// Output:
	// level=INFO msg="calling OpenAI" key=[REDACTED] fingerprint=kfp_bf2b742f77bc4675
	// [REDACTED] [REDACTED] "[REDACTED]"
	// true
	// [EMPTY]
}

func ExampleStatic() {
	ctx := context.Background()
	p := keyprovider.Static("sk-example-not-a-real-key")
	fmt.Println(p)

	key, err := p.Key(ctx, keyprovider.Scope{Environment: "prod", Group: "search"})
	fmt.Println(key, key.Fingerprint(), err)

	_, refreshable := any(p).(keyprovider.Invalidator)
	fmt.Println("refreshable:", refreshable)

	_, err = keyprovider.Static("").Key(ctx, keyprovider.Scope{Environment: "prod"})
	fmt.Println(errors.Is(err, keyprovider.ErrNoKey), err)

	// Output:
	// keyprovider.Static(kfp_bf2b742f77bc4675)
	// [REDACTED] kfp_bf2b742f77bc4675 <nil>
	// refreshable: false
	// true keyprovider: no key: static key is empty (scope prod)
}

func ExampleEnv() {
	ctx := context.Background()
	const name = "EXAMPLE_KEYPROVIDER_API_KEY"
	os.Setenv(name, "sk-example-old")
	defer os.Unsetenv(name)

	p, err := keyprovider.Env(name)
	if err != nil {
		panic(err)
	}
	fmt.Println(p)
	rejected, _ := p.Key(ctx, keyprovider.Scope{})

	// OpenAI answered 401 and the variable still holds the same key.
	err = p.Invalidate(ctx, keyprovider.Scope{}, rejected)
	fmt.Println(errors.Is(err, keyprovider.ErrCannotRefresh), err)

	// The key was rotated: Invalidate succeeds and Key returns the new key.
	os.Setenv(name, "sk-example-new")
	fmt.Println(p.Invalidate(ctx, keyprovider.Scope{}, rejected))
	key, _ := p.Key(ctx, keyprovider.Scope{})
	fmt.Println(key.Equal(rejected), key.Fingerprint())

	os.Unsetenv(name)
	_, err = p.Key(ctx, keyprovider.Scope{})
	fmt.Println(errors.Is(err, keyprovider.ErrNoKey), err)

	// A key passed where a name belongs is rejected without being echoed.
	_, err = keyprovider.Env("sk-example-not-a-real-key")
	fmt.Println(err)

	// Output:
	// keyprovider.Env(EXAMPLE_KEYPROVIDER_API_KEY)
	// true keyprovider: key cannot be refreshed: environment variable EXAMPLE_KEYPROVIDER_API_KEY still holds the rejected key
	// <nil>
	// false kfp_c447b22d7a479ad3
	// true keyprovider: no key: environment variable EXAMPLE_KEYPROVIDER_API_KEY is unset or empty
	// keyprovider: invalid environment variable name: want [A-Za-z_][A-Za-z0-9_]*, got a 25-byte string (not shown: it may be a key)
}

// A ProviderFunc can choose a key per environment and group.
func ExampleProviderFunc() {
	keys := map[keyprovider.Scope]keyprovider.Secret{
		{Environment: "prod"}:                  keyprovider.NewSecret("sk-example-prod"),
		{Environment: "prod", Group: "search"}: keyprovider.NewSecret("sk-example-prod-search"),
	}
	var p keyprovider.Provider = keyprovider.ProviderFunc(func(ctx context.Context, scope keyprovider.Scope) (keyprovider.Secret, error) {
		if k, ok := keys[scope]; ok {
			return k, nil
		}
		if k, ok := keys[keyprovider.Scope{Environment: scope.Environment}]; ok {
			return k, nil // the environment's default key
		}
		return keyprovider.Secret{}, fmt.Errorf("%w for scope %s", keyprovider.ErrNoKey, scope)
	})

	for _, scope := range []keyprovider.Scope{
		{Environment: "prod", Group: "search"},
		{Environment: "prod", Group: "billing"},
		{Environment: "dev"},
	} {
		key, err := p.Key(context.Background(), scope)
		if err != nil {
			fmt.Printf("%-12s %v\n", scope, err)
			continue
		}
		fmt.Printf("%-12s %s\n", scope, key.Fingerprint())
	}

	// Output:
	// prod/search  kfp_f14ee9c5711a61cc
	// prod/billing kfp_4d1e16b3a2eaeb5a
	// dev          keyprovider: no key for scope dev
}
