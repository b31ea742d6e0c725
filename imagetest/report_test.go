package imagetest_test

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/platform"
)

func TestUnameMachines(t *testing.T) {
	cases := []struct {
		platform string
		want     []string
	}{
		{"linux/amd64", []string{"x86_64"}},
		{"linux/x86_64", []string{"x86_64"}},
		{"linux/386", []string{"i386", "i486", "i586", "i686"}},
		{"linux/arm64", []string{"aarch64", "arm64"}},
		{"linux/aarch64", []string{"aarch64", "arm64"}},
		{"linux/arm64/v8", []string{"aarch64", "arm64"}},
		{"linux/arm/v7", []string{"armv7l", "armv8l"}},
		{"linux/arm", []string{"armv7l", "armv8l"}},
		{"linux/arm/v6", []string{"armv6l", "armv7l", "armv8l"}},
		{"linux/arm/v5", []string{"armv5l", "armv5tel", "armv5tejl", "armv6l", "armv7l", "armv8l"}},
		{"linux/ppc64le", []string{"ppc64le"}},
		{"linux/s390x", []string{"s390x"}},
		{"linux/riscv64", []string{"riscv64"}},
		{"linux/mips64le", []string{"mips64"}},
		{"linux/loong64", []string{"loongarch64"}},
	}
	for _, tc := range cases {
		t.Run(tc.platform, func(t *testing.T) {
			p, err := platform.Parse(tc.platform)
			if err != nil {
				t.Fatal(err)
			}
			if got := imagetest.UnameMachines(p); !slices.Equal(got, tc.want) {
				t.Errorf("UnameMachines = %v, want %v", got, tc.want)
			}
		})
	}
	// Spelled as a v1.Platform by hand, not parsed.
	if got := imagetest.UnameMachines(v1.Platform{OS: "linux", Architecture: "aarch64"}); !slices.Equal(got, []string{"aarch64", "arm64"}) {
		t.Errorf("unnormalised aarch64: %v", got)
	}
}

// results are two images on two platforms: passes, a two-line failure, a
// skip.
func results() []imagetest.Result {
	return []imagetest.Result{
		{Platform: "linux/amd64", Image: "r/agent@sha256:aa", Kind: imagetest.KindArch, Name: "uname -m is x86_64", Passed: true, Message: "uname -m: x86_64", Duration: 1500 * time.Millisecond},
		{Platform: "linux/amd64", Image: "r/agent@sha256:aa", Kind: imagetest.KindFile, Name: "/agent", Passed: true, Duration: 250 * time.Millisecond},
		{Platform: "linux/arm/v7", Image: "r/agent@sha256:bb", Kind: imagetest.KindCommand, Name: "prints its version", Passed: false,
			Message: "exit code: expected 0, got 139\nstderr: \"Segmentation fault <core dumped> & more\"", Duration: 2 * time.Second},
		{Platform: "linux/arm/v7", Image: "r/agent@sha256:bb", Kind: imagetest.KindArch, Name: "uname -m is armv7l or armv8l", Skipped: true, Message: "the image has no uname; the layer scan still checks its binaries"},
		{Platform: "linux/arm/v7", Image: "r/agent@sha256:bb", Kind: imagetest.KindMetadata, Name: "entrypoint", Passed: true},
	}
}

func TestSummarize(t *testing.T) {
	if got, want := imagetest.Summarize(results()), (imagetest.Summary{Passed: 3, Failed: 1, Skipped: 1}); got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if got := imagetest.Summarize(nil); got != (imagetest.Summary{}) {
		t.Errorf("Summarize(nil) = %+v", got)
	}
	var failed []string
	for _, r := range results() {
		if r.Failed() {
			failed = append(failed, r.Name)
		}
	}
	if !slices.Equal(failed, []string{"prints its version"}) {
		t.Errorf("Failed() is true for %v; a skip is not a failure", failed)
	}
}

func TestWriteJUnitReadByEncodingXML(t *testing.T) {
	var buf bytes.Buffer
	if err := imagetest.WriteJUnit(&buf, results()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), xml.Header) {
		t.Errorf("no XML header:\n%s", buf.String())
	}
	// Our own reading of JUnit, independent of the package's types.
	type message struct {
		Message string `xml:"message,attr"`
		Body    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *message `xml:"failure"`
		Skipped   *message `xml:"skipped"`
	}
	type suite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Time     string   `xml:"time,attr"`
		Suites   []suite  `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if doc.Tests != 5 || doc.Failures != 1 || doc.Skipped != 1 || doc.Time != "3.750" {
		t.Errorf("testsuites: tests=%d failures=%d skipped=%d time=%s, want 5 1 1 3.750", doc.Tests, doc.Failures, doc.Skipped, doc.Time)
	}
	if len(doc.Suites) != 2 {
		t.Fatalf("%d suites, want one per image and platform (2)", len(doc.Suites))
	}
	amd, arm := doc.Suites[0], doc.Suites[1]
	if amd.Name != "linux/amd64 r/agent@sha256:aa" || amd.Tests != 2 || amd.Failures != 0 || amd.Skipped != 0 || amd.Time != "1.750" {
		t.Errorf("amd64 suite %+v", amd)
	}
	if arm.Name != "linux/arm/v7 r/agent@sha256:bb" || arm.Tests != 3 || arm.Failures != 1 || arm.Skipped != 1 || arm.Time != "2.000" {
		t.Errorf("arm/v7 suite %+v", arm)
	}
	fail := arm.Cases[0]
	if fail.Name != "command: prints its version" || fail.Classname != "polyarch.linux_arm_v7" || fail.Time != "2.000" || fail.Failure == nil || fail.Skipped != nil {
		t.Fatalf("failed case %+v", fail)
	}
	if fail.Failure.Message != "exit code: expected 0, got 139" {
		t.Errorf("failure message %q, want the first line", fail.Failure.Message)
	}
	if fail.Failure.Body != results()[2].Message {
		t.Errorf("failure body %q, want the whole message (escaped and read back)", fail.Failure.Body)
	}
	skip := arm.Cases[1]
	if skip.Skipped == nil || skip.Failure != nil || skip.Skipped.Message != results()[3].Message {
		t.Errorf("skipped case %+v", skip)
	}
	for _, c := range append(amd.Cases, arm.Cases[2]) {
		if c.Failure != nil || c.Skipped != nil {
			t.Errorf("passed case %q has failure %v skipped %v", c.Name, c.Failure, c.Skipped)
		}
	}
}

func TestWriteJUnitReadByGoJUnitReport(t *testing.T) {
	var buf bytes.Buffer
	if err := imagetest.WriteJUnit(&buf, results()); err != nil {
		t.Fatal(err)
	}
	var doc junit.Testsuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 5 || doc.Failures != 1 || doc.Skipped != 1 || doc.Errors != 0 {
		t.Errorf("testsuites %d tests, %d failures, %d skipped, %d errors", doc.Tests, doc.Failures, doc.Skipped, doc.Errors)
	}
	var cases, failures, skipped int
	for _, s := range doc.Suites {
		if s.Tests != len(s.Testcases) {
			t.Errorf("suite %q says %d tests, has %d", s.Name, s.Tests, len(s.Testcases))
		}
		for _, c := range s.Testcases {
			cases++
			if c.Failure != nil {
				failures++
				if c.Failure.Message != "exit code: expected 0, got 139" {
					t.Errorf("%s: failure message %q", c.Name, c.Failure.Message)
				}
			}
			if c.Skipped != nil {
				skipped++
			}
		}
	}
	if cases != 5 || failures != 1 || skipped != 1 {
		t.Errorf("read %d cases, %d failures, %d skipped; want 5 1 1", cases, failures, skipped)
	}
}

func TestWriteJUnitOfNothing(t *testing.T) {
	var buf bytes.Buffer
	if err := imagetest.WriteJUnit(&buf, nil); err != nil {
		t.Fatal(err)
	}
	var doc junit.Testsuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if doc.Tests != 0 || len(doc.Suites) != 0 {
		t.Errorf("%+v", doc)
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	imagetest.WriteTable(&buf, results())
	out := buf.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "PLATFORM") || !strings.Contains(lines[0], "TEST") || !strings.Contains(lines[0], "RESULT") {
		t.Errorf("header %q", lines[0])
	}
	rows := []struct{ platform, test, result string }{
		{"linux/amd64", "arch: uname -m is x86_64", "pass"},
		{"linux/amd64", "file: /agent", "pass"},
		{"linux/arm/v7", "command: prints its version", "FAIL"},
		{"linux/arm/v7", "arch: uname -m is armv7l or armv8l", "skip"},
		{"linux/arm/v7", "metadata: entrypoint", "pass"},
	}
	for i, r := range rows {
		f := strings.Fields(lines[i+1])
		if len(f) < 4 || f[0] != r.platform || !strings.Contains(lines[i+1], r.test) || f[len(f)-2] != r.result {
			t.Errorf("row %d: %q, want %s %s %s", i, lines[i+1], r.platform, r.test, r.result)
		}
	}
	// The failure in full, its second line indented, and only the failure.
	wantFail := "FAIL linux/arm/v7 command: prints its version (r/agent@sha256:bb)\n  exit code: expected 0, got 139\n  stderr: "
	if !strings.Contains(out, wantFail) {
		t.Errorf("table lacks\n%s\nin\n%s", wantFail, out)
	}
	if n := strings.Count(out, "\nFAIL "); n != 1 {
		t.Errorf("%d FAIL blocks, want 1:\n%s", n, out)
	}
	if !strings.HasSuffix(out, "\n3 passed, 1 failed, 1 skipped\n") {
		t.Errorf("summary line missing at the end:\n%s", out)
	}
}
