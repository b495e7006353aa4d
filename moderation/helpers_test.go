package moderation_test

import (
	"net/http"
	"testing"

	"github.com/secureai-go/secureai/moderation"
	"github.com/secureai-go/secureai/secureaitest"
)

// testKey is the key the tests' transport sends; the fake accepts any.
const testKey = "sk-test-moderation-0123456789"

// authTransport adds the API key to each request, as secureai's transport
// does, on a clone of the request.
type authTransport struct{ base http.RoundTripper }

func (a authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+testKey)
	return a.base.RoundTrip(r)
}

// newChecker returns a Checker that talks to s in memory, with opts'
// HTTPClient and BaseURL filled in.
func newChecker(t testing.TB, s *secureaitest.Server, opts moderation.Options) *moderation.Checker {
	t.Helper()
	opts.HTTPClient = &http.Client{Transport: authTransport{s.Transport()}}
	opts.BaseURL = s.URL()
	c, err := moderation.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}
