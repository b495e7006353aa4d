package keyprovider_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/secureaitest"
)

// Read a key per scope from Vault's KV v2 engine with AppRole, here
// against secureaitest's fake Vault.
func ExampleVault() {
	ctx := context.Background()
	vault := secureaitest.StartVault()
	defer vault.Close()
	vault.AddAppRole("role-id-example", "secret-id-example", time.Hour)
	vault.PutKV("secret", "openai/prod/hr", map[string]any{"api_key": "sk-example-hr-v1"})
	vault.PutKV("secret", "openai/prod/hr", map[string]any{"api_key": "sk-example-hr-v2"})

	p, err := keyprovider.Vault(keyprovider.VaultOptions{
		Address: vault.URL(),
		AppRole: &keyprovider.VaultAppRole{
			RoleID:   keyprovider.NewSecret("role-id-example"),
			SecretID: keyprovider.NewSecret("secret-id-example"),
		},
		Secrets: keyprovider.ScopeMap(map[keyprovider.Scope]keyprovider.VaultRef{
			{Environment: "prod", Group: "hr"}:     {Path: "openai/prod/hr"},             // field "api_key", latest version
			{Environment: "prod", Group: "hr-v1"}:  {Path: "openai/prod/hr", Version: 1}, // a pinned version
			{Environment: "prod", Group: "legacy"}: {Path: "openai/prod/legacy"},
		}),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	for _, group := range []string{"hr", "hr-v1", "legacy", "finance"} {
		key, info, err := p.KeyInfo(ctx, keyprovider.Scope{Environment: "prod", Group: group})
		if err != nil {
			fmt.Printf("%-7s %s: %v\n", group, keyprovider.ErrorClass(err), err)
			continue
		}
		fmt.Printf("%-7s %s %s version %s\n", group, key.Fingerprint(), info.Source, info.Version)
	}
	fmt.Println("logins:", vault.Logins())

	// Output:
	// hr      kfp_206a361c274eb52d vault:secret/openai/prod/hr#api_key version 2
	// hr-v1   kfp_df5bfc25e8485a92 vault:secret/openai/prod/hr#api_key version 1
	// legacy  not_found: keyprovider: vault secret/openai/prod/legacy#api_key: not_found (404): keyprovider: no key
	// finance no_scope: keyprovider: no key configured for scope prod/finance
	// logins: 1
}

// Read the key from a mounted secret file, which may be replaced while the
// program runs.
func ExampleFile() {
	dir, _ := os.MkdirTemp("", "keyprovider-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "openai-api-key")
	os.WriteFile(path, []byte("sk-example-file-key\n"), 0o600) // the trailing newline is trimmed

	p, err := keyprovider.File(path, keyprovider.FileOptions{CheckInterval: -1}) // check on every call
	if err != nil {
		panic(err)
	}
	key, _ := p.Key(context.Background(), keyprovider.Scope{})
	fmt.Println(key.Fingerprint(), key.Len())

	os.WriteFile(path+".new", []byte("sk-example-rotated\n"), 0o600)
	os.Rename(path+".new", path) // an atomic swap, as Kubernetes does
	key, _ = p.Key(context.Background(), keyprovider.Scope{})
	fmt.Println(key.Fingerprint(), key.Len())

	os.WriteFile(path, []byte("sk-example with a space\n"), 0o600)
	_, err = p.Key(context.Background(), keyprovider.Scope{})
	fmt.Println(errors.Is(err, keyprovider.ErrInvalidKey))

	// Output:
	// kfp_19a1bb38fe2a7e73 19
	// kfp_a090ee20a1715af7 18
	// true
}

// A Cache in front of a provider: one fetch however many callers, a key
// that a 401 rejected is replaced at once, and KeyInfo says where the key
// came from.
func ExampleNewCache() {
	ctx := context.Background()
	store := secureaitest.NewKeys("sk-example-old")
	keys := keyprovider.NewCache(store, keyprovider.CacheOptions{TTL: 5 * time.Minute, Grace: 5 * time.Minute})
	defer keys.Close(ctx)

	scope := keyprovider.Scope{Environment: "prod", Group: "search"}
	for range 3 {
		keys.Key(ctx, scope)
	}
	old, info, _ := keys.KeyInfo(ctx, scope)
	fmt.Println(old.Fingerprint(), "stale:", info.Stale)

	// The key was rotated and OpenAI answers 401 for the old one.
	store.Set("sk-example-new")
	fmt.Println(keys.Invalidate(ctx, scope, old)) // too soon after the fetch: no retry
	st := keys.Stats()
	fmt.Printf("fetches %d, hits %d\n", st.Fetches, st.Hits)

	// Output:
	// kfp_def24eb7e6493865 stale: false
	// keyprovider: key cannot be refreshed: the rejected key for scope prod/search was fetched less than the retry interval ago
	// fetches 1, hits 3
}

// A Router gives each group its own key; a group without a route gets no
// key at all.
func ExampleNewRouter() {
	ctx := context.Background()
	router, err := keyprovider.NewRouter(map[keyprovider.Scope]keyprovider.Provider{
		{Environment: "prod", Group: "hr"}:                                  keyprovider.Static("sk-example-hr"),
		{Environment: "prod", Group: "finance"}:                             keyprovider.Static("sk-example-finance"),
		{Environment: "dev", Group: keyprovider.Any, Tier: keyprovider.Any}: keyprovider.Static("sk-example-dev"),
	})
	if err != nil {
		panic(err)
	}
	for _, scope := range []keyprovider.Scope{
		{Environment: "prod", Group: "hr"},
		{Environment: "prod", Group: "finance"},
		{Environment: "prod", Group: "legal"},
		{Environment: "dev", Group: "legal", Tier: "free"},
	} {
		key, err := router.Key(ctx, scope)
		if err != nil {
			fmt.Printf("%-14s %v (ErrNoScope: %v)\n", scope, err, errors.Is(err, keyprovider.ErrNoScope))
			continue
		}
		fmt.Printf("%-14s %s\n", scope, key.Fingerprint())
	}

	// Output:
	// prod/hr        kfp_584405e4655868e3
	// prod/finance   kfp_71efde2413f63141
	// prod/legal     keyprovider: no key configured for scope prod/legal (ErrNoScope: true)
	// dev/legal/free kfp_ecd3ff88f51f3c31
}
