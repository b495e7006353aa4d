package tokens_test

import (
	"fmt"

	"github.com/secureai-go/secureai/internal/tokens"
)

func ExampleEstimate_UpperBound() {
	question := "What is the capital of France?"
	e := tokens.Estimate{
		TextBytes: tokens.WireBytes("You are terse.") + tokens.WireBytes(question),
		Messages:  2,
		Images:    []tokens.ImageDetail{tokens.ImageLow},
	}
	fmt.Println("upper bound:", e.UpperBound("gpt-4o"))

	exact, _ := tokens.Count("gpt-4o", "You are terse.", question)
	fmt.Println("text tokens:", exact)
	fmt.Println("with exact text:", e.WithTextTokens("gpt-4o", exact))
	// Output:
	// upper bound: 148
	// text tokens: 11
	// with exact text: 115
}

func ExampleCount() {
	// A user-typed special-token marker is counted as text, never obeyed.
	n, err := tokens.Count("gpt-4o", "<|endoftext|> hi")
	fmt.Println(n > 1, err)
	// Output: true <nil>
}
