package moderation_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/secureai-go/secureai/moderation"
	"github.com/secureai-go/secureai/secureaitest"
)

// keyTransport stands in for secureai's transport, which injects the key.
type keyTransport struct{ base http.RoundTripper }

func (k keyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer sk-test-example-key")
	return k.base.RoundTrip(r)
}

// The fake server flags inputs with "stab"; a local rule flags a
// competitor's name without asking the endpoint.
func Example() {
	s := secureaitest.StartServer()
	defer s.Close()
	s.FlagWords("stab")

	competitors, err := moderation.KeywordRule("competitors", "policy/competitors", "Globex")
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := moderation.New(moderation.Options{
		HTTPClient: &http.Client{Transport: keyTransport{s.Transport()}},
		BaseURL:    s.URL(),
		Rules:      []moderation.Rule{competitors},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	for _, text := range []string{"What is the capital of France?", "I will stab you", "Is Globex cheaper?"} {
		v, err := c.Check(context.Background(), moderation.Input{Texts: []string{text}})
		switch fe, ok := errors.AsType[*moderation.FlaggedError](err); {
		case ok:
			fmt.Println(fe.Reason(), fe.Rules)
		case err != nil:
			fmt.Println("error:", err)
		default:
			fmt.Println("passed, flagged:", v.Flagged)
		}
	}
	fmt.Println("requests sent:", len(s.Requests()))
	// Output:
	// passed, flagged: false
	// flagged:harassment,violence []
	// flagged:policy/competitors [competitors]
	// requests sent: 2
}

// A children's app flags more than the provider does, and fails closed
// when the endpoint is down.
func ExampleNew_thresholds() {
	s := secureaitest.StartServer()
	defer s.Close()
	s.Enqueue(secureaitest.Fault{Status: http.StatusServiceUnavailable})

	c, err := moderation.New(moderation.Options{
		HTTPClient: &http.Client{Transport: keyTransport{s.Transport()}},
		BaseURL:    s.URL(),
		Thresholds: map[string]float64{"sexual": 0.1, "violence": 0.2, "*": 0.5},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.Check(context.Background(), moderation.Input{Texts: []string{"Tell me a story."}})
	fmt.Println(err, errors.Is(err, moderation.ErrUnavailable))
	// Output:
	// moderation: endpoint unavailable: status_503 true
}
