package sanitize_test

import (
	"fmt"

	"github.com/secureai-go/secureai/sanitize"
)

func ExampleScanSecrets() {
	text := "deploy with AKIAIOSFODNN7EXAMPLE and postgres://app:s3cr3tPass@db:5432/app"
	for _, f := range sanitize.ScanSecrets(text) {
		fmt.Println(f.Type, f.Start, f.End)
	}
	// Output:
	// aws_access_key_id 12 32
	// url_password 52 62
}
