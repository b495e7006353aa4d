module github.com/secureai-go/secureai/bench

go 1.26

require (
	github.com/sashabaranov/go-openai v1.43.0
	github.com/secureai-go/secureai v0.0.0
)

// The benchmarks measure the library in this repository. Peer libraries
// used only for comparison are required here, never by the library itself.
replace github.com/secureai-go/secureai => ../
