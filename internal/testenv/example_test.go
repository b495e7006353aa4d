package testenv_test

import (
	"fmt"

	"github.com/secureai-go/secureai/internal/testenv"
)

// The token counters' benchmarks in two modules count the same texts.
func ExampleTokenCorpus() {
	english4K, mixed64K := testenv.TokenCorpus()
	again, _ := testenv.TokenCorpus()
	fmt.Println(len(english4K) <= 4096, len(mixed64K) <= 64<<10, english4K == again)
	// Output: true true true
}
