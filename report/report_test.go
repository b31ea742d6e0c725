package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/polyarch/polyarch/imagetest/result"
	"github.com/polyarch/polyarch/report"
)

const (
	digestAMD  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digestARM  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	digestZ    = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	digestIdx  = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
	scriptText = `<script>alert("pwned")</script>`
)

// release is a failed release: agent published with its optional arm/v7
// left out (its build failed), builder@2.4 blocked by s390x tests.
func release() *report.Report {
	return &report.Report{
		Started:  time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		Duration: 95 * time.Second,
		OK:       false,
		Units: []*report.Unit{
			{
				Name: "agent", Image: "agent", Version: "1.4", IndexRef: "r.example/agent:1.4", Tags: []string{"1.4", "latest"},
				Status: report.Published, Digest: digestIdx, MediaType: "application/vnd.oci.image.index.v1+json",
				Targets: []*report.Target{
					{Platform: "linux/amd64", Ref: "r.example/agent:1.4-amd64", Node: "local", Native: true, Digest: digestAMD, Size: 12 << 20,
						BuildTime: 40 * time.Second, TestTime: 3 * time.Second, Status: report.Passed,
						Tests: []result.Result{
							{Platform: "linux/amd64", Kind: result.KindArch, Name: "uname -m is x86_64", Passed: true},
							{Platform: "linux/amd64", Kind: result.KindCommand, Name: "version", Passed: true},
						}},
					{Platform: "linux/arm64", Ref: "r.example/agent:1.4-arm64", Node: "arm-box", Native: true, Digest: digestARM, Size: 11 << 20,
						BuildTime: 50 * time.Second, Status: report.Passed, TestsReused: true,
						Tests: []result.Result{{Platform: "linux/arm64", Kind: result.KindArch, Name: "uname -m is aarch64 or arm64", Passed: true}}},
					{Platform: "linux/arm/v7", Optional: true, Ref: "r.example/agent:1.4-armv7", Node: "local", Native: false,
						BuildTime: 9 * time.Second, Status: report.BuildFailed, LeftOut: true,
						Error: "exit code 1: RUN make\n" + scriptText, LogFile: "/tmp/logs/agent_linux-arm-v7.log"},
				},
				Resolved: []report.Resolution{{Host: "linux/amd64", Found: true, Digest: digestAMD, Platform: "linux/amd64", Why: "exact match"}},
			},
			{
				Name: "builder@2.4", Image: "builder", Version: "2.4", IndexRef: "r.example/builder:2.4", Tags: []string{"2.4"},
				Status: report.NotPublished, Reason: "required platforms failed: linux/s390x (tests failed)",
				Targets: []*report.Target{
					{Platform: "linux/amd64", Ref: "r.example/builder:2.4-amd64", Node: "local", Native: true, Digest: digestAMD, Status: report.Passed},
					{Platform: "linux/s390x", Ref: "r.example/builder:2.4-s390x", Node: "local", Digest: digestZ, Status: report.TestsFailed,
						Error: "command: bazel version: exit code: expected 0, got 1",
						Tests: []result.Result{
							{Platform: "linux/s390x", Kind: result.KindArch, Name: "uname -m is s390x", Passed: true},
							{Platform: "linux/s390x", Kind: result.KindCommand, Name: "bazel version", Message: "exit code: expected 0, got 1\nstderr: " + scriptText},
						}},
				},
			},
		},
	}
}

// cell is what a reader of one table cell sees.
type cell struct {
	class, platform, text string
	digestTitle           string // the full digest in the short digest's title
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, find(c, match)...)
	}
	return out
}

func element(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == tag }
}

// table parses the page and returns the header and, per row, its cells
// (the first is the unit's).
func table(t *testing.T, page string) (header []string, rows [][]cell, doc *html.Node) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	trs := find(doc, element("tr"))
	if len(trs) == 0 {
		t.Fatalf("no table rows in\n%s", page)
	}
	for _, th := range find(trs[0], element("th")) {
		header = append(header, strings.TrimSpace(text(th)))
	}
	for _, tr := range trs[1:] {
		var row []cell
		for _, td := range find(tr, element("td")) {
			c := cell{class: attr(td, "class"), platform: attr(td, "data-platform"), text: text(td)}
			for _, code := range find(td, element("code")) {
				if attr(code, "class") == "digest" {
					c.digestTitle = attr(code, "title")
				}
			}
			row = append(row, c)
		}
		rows = append(rows, row)
	}
	return header, rows, doc
}

func TestWriteHTML(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, release()); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	header, rows, doc := table(t, page)

	wantHeader := []string{"image", "linux/amd64", "linux/arm/v7", "linux/arm64", "linux/s390x"}
	if !reflect.DeepEqual(header, wantHeader) {
		t.Fatalf("header %q, want %q", header, wantHeader)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want one per unit (2)", len(rows))
	}
	for i, r := range rows {
		if len(r) != len(header) {
			t.Fatalf("row %d has %d cells, want %d", i, len(r), len(header))
		}
	}

	t.Run("units", func(t *testing.T) {
		agent, builder := rows[0][0], rows[1][0]
		for _, w := range []string{"agent", report.Published.String(), "r.example/agent:1.4", digestIdx[:19]} {
			if !strings.Contains(agent.text, w) {
				t.Errorf("agent cell %q lacks %q", agent.text, w)
			}
		}
		if agent.class != "ok" || agent.digestTitle != digestIdx {
			t.Errorf("agent cell class %q digest title %q", agent.class, agent.digestTitle)
		}
		for _, w := range []string{"builder@2.4", report.NotPublished.String(), "r.example/builder:2.4", "required platforms failed: linux/s390x (tests failed)"} {
			if !strings.Contains(builder.text, w) {
				t.Errorf("builder cell %q lacks %q", builder.text, w)
			}
		}
		if builder.class != "bad" {
			t.Errorf("blocked unit's class %q, want bad", builder.class)
		}
	})

	cases := []struct {
		name     string
		row, col int
		class    string
		digest   string // full; "" for none
		contains []string
		lacks    []string
	}{
		{"published, native, tested", 0, 1, "ok", digestAMD,
			[]string{report.Passed.String(), "native on local", "12.0 MiB", "build 40s", "tests 3s", "tests: 2 passed, 0 failed"}, []string{"optional", "✗"}},
		{"optional, failed build, left out", 0, 2, "warn", "",
			[]string{"build failed", "(optional, left out)", "emulated on local", "exit code 1: RUN make", scriptText, "/tmp/logs/agent_linux-arm-v7.log"}, []string{"tests:"}},
		{"tests reused", 0, 3, "ok", digestARM,
			[]string{report.Passed.String(), "native on arm-box", "tests: 1 passed, 0 failed (passed before, not rerun)"}, nil},
		{"platform the unit lacks", 0, 4, "none", "", []string{"—"}, []string{report.Passed.String()}},
		{"blocked unit's passed target", 1, 1, "ok", digestAMD, []string{report.Passed.String()}, nil},
		{"tests failed", 1, 4, "bad", digestZ,
			[]string{report.TestsFailed.String(), "tests: 1 passed, 1 failed", "✗ command: bazel version", "exit code: expected 0, got 1", "stderr: " + scriptText},
			// The test failure is shown once, not again as the target's error.
			[]string{"error and log tail", "uname -m is s390x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rows[tc.row][tc.col]
			if c.class != tc.class {
				t.Errorf("class %q, want %q", c.class, tc.class)
			}
			if tc.class != "none" && c.platform != header[tc.col] {
				t.Errorf("data-platform %q in the %s column", c.platform, header[tc.col])
			}
			if c.digestTitle != tc.digest {
				t.Errorf("digest title %q, want %q", c.digestTitle, tc.digest)
			}
			if tc.digest != "" {
				short := tc.digest[:19]
				if !strings.Contains(c.text, short) || strings.Contains(c.text, tc.digest) {
					t.Errorf("cell %q: want the short digest %s shown, the whole one only in the title", c.text, short)
				}
			}
			for _, w := range tc.contains {
				if !strings.Contains(c.text, w) {
					t.Errorf("cell %q lacks %q", c.text, w)
				}
			}
			for _, w := range tc.lacks {
				if strings.Contains(c.text, w) {
					t.Errorf("cell %q has %q", c.text, w)
				}
			}
		})
	}

	t.Run("messages are escaped", func(t *testing.T) {
		if scripts := find(doc, element("script")); len(scripts) != 0 {
			t.Errorf("the page has %d <script> elements: a message was not escaped", len(scripts))
		}
		if strings.Contains(page, scriptText) {
			t.Error("the raw page holds an unescaped <script>")
		}
		if !strings.Contains(page, "&lt;script&gt;") {
			t.Error("no escaped &lt;script&gt; in the page")
		}
	})

	t.Run("verdict", func(t *testing.T) {
		titles := find(doc, element("title"))
		if len(titles) != 1 || text(titles[0]) != "polyarch release FAILED" {
			t.Errorf("title %q", text(titles[0]))
		}
		if !strings.Contains(page, "started 2026-11-23T12:00:00Z, took 1m35s") {
			t.Error("the page does not say when it started and how long it took")
		}
	})
}

func TestWriteHTMLPassed(t *testing.T) {
	r := release()
	r.OK = true
	r.Units = r.Units[:1]
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	header, rows, doc := table(t, buf.String())
	if want := []string{"image", "linux/amd64", "linux/arm/v7", "linux/arm64"}; !reflect.DeepEqual(header, want) {
		t.Errorf("header %q, want only the platforms of the units shown %q", header, want)
	}
	if len(rows) != 1 {
		t.Errorf("%d rows", len(rows))
	}
	if title := text(find(doc, element("title"))[0]); title != "polyarch release passed" {
		t.Errorf("title %q", title)
	}
	if !strings.Contains(buf.String(), "every image published") {
		t.Error("no verdict")
	}
	if strings.Contains(buf.String(), "signed (") {
		t.Error("an unsigned release's page says signed")
	}
	r.Units[0].Signed = &report.Signed{Format: "tag", Platforms: 3, Written: 10, Evidence: true, Duration: 1200 * time.Millisecond}
	buf.Reset()
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	_, rows, _ = table(t, buf.String())
	if got := rows[0][0].text; !strings.Contains(got, "signed (tag), 3 platforms with SBOM and provenance · 1.2s") {
		t.Errorf("image cell %q: want what signing did", got)
	}
}

func TestWriteJSONRoundTrips(t *testing.T) {
	want := release()
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, want); err != nil {
		t.Fatal(err)
	}
	var got report.Report
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		a, _ := json.Marshal(&got)
		b, _ := json.Marshal(want)
		t.Errorf("round trip changed the report:\n got %s\nwant %s", a, b)
	}
	// What machines read: the field names.
	var raw map[string]any
	buf.Reset()
	report.WriteJSON(&buf, want)
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	unit := raw["units"].([]any)[1].(map[string]any)
	if unit["status"] != report.NotPublished.String() || unit["reason"] == nil || unit["index"] != "r.example/builder:2.4" {
		t.Errorf("unit JSON %v", unit)
	}
	target := unit["targets"].([]any)[1].(map[string]any)
	if target["platform"] != "linux/s390x" || target["digest"] != digestZ || target["status"] != report.TestsFailed.String() {
		t.Errorf("target JSON %v", target)
	}
	if !strings.Contains(buf.String(), "\n  ") {
		t.Error("JSON is not indented")
	}
}

// Every key of the JSON report is camelCase, and a status is one word or
// phrase that machines can compare, with an optional target's being left
// out a field of its own, not words appended to its status.
func TestJSONKeysAreCamelCaseAndStatusesComparable(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, release()); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if k == "" || k[0] < 'a' || k[0] > 'z' || strings.ContainsAny(k, "_- ") {
					t.Errorf("%s: key %q is not camelCase", path, k)
				}
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	walk("report", raw)

	unit := raw["units"].([]any)[0].(map[string]any)
	if tags, ok := unit["tags"].([]any); !ok || len(tags) != 2 || tags[0] != "1.4" {
		t.Errorf("unit tags %v, want [1.4 latest] under \"tags\"", unit["tags"])
	}
	armv7 := unit["targets"].([]any)[2].(map[string]any)
	if armv7["status"] != "build failed" || armv7["leftOut"] != true {
		t.Errorf("optional arm/v7 whose build failed: status %v, leftOut %v; want \"build failed\" and true", armv7["status"], armv7["leftOut"])
	}
	amd64 := unit["targets"].([]any)[0].(map[string]any)
	if _, ok := amd64["leftOut"]; ok || amd64["status"] != "passed" {
		t.Errorf("a passed target: status %v, leftOut %v", amd64["status"], amd64["leftOut"])
	}
}

// A merge job's report names the CI run and job that tested each platform,
// and a waiting unit is shown as such.
func TestWriteHTMLNamesTheCIJobOfEachPlatform(t *testing.T) {
	r := release()
	r.Units = r.Units[:1]
	r.Units[0].Status = report.Waiting
	for _, tr := range r.Units[0].Targets {
		tr.CI = &report.CIRun{System: "github-actions", Run: "4242", Job: "release-" + strings.ReplaceAll(strings.TrimPrefix(tr.Platform, "linux/"), "/", ""),
			URL: "https://github.example/o/r/actions/runs/4242"}
	}
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	_, rows, _ := table(t, buf.String())
	if len(rows) != 1 || !strings.Contains(rows[0][0].text, "waiting") || rows[0][0].class != "warn" {
		t.Fatalf("rows %+v: want one, waiting", rows)
	}
	for _, tr := range r.Units[0].Targets {
		if !strings.Contains(buf.String(), `<a href="https://github.example/o/r/actions/runs/4242">github-actions run 4242 job `+tr.CI.Job+`</a>`) {
			t.Errorf("no link to %s's CI job %s", tr.Platform, tr.CI.Job)
		}
	}
}
