// Package bench holds benchmarks of secureai beside the raw go-openai call
// (and later beside peer libraries), run in one process against the same
// fake OpenAI server so that their ratio holds on a noisy machine. It is a
// separate module, so that comparison-only dependencies never reach the
// library's go.mod.
//
//	cd bench && go test -run '^$' -bench BenchmarkChat -benchmem
package bench
