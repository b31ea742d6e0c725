package imagetest

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/polyarch/polyarch/imagetest/result"
)

// Summary counts results.
type Summary = result.Summary

// Summarize counts results.
func Summarize(rs []Result) Summary { return result.Summarize(rs) }

// WriteTable writes one row per platform and test, then each failure's
// message in full.
func WriteTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tTEST\tRESULT\tDURATION")
	for _, r := range rs {
		res := "pass"
		switch {
		case r.Skipped:
			res = "skip"
		case !r.Passed:
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s: %s\t%s\t%s\n", r.Platform, r.Kind, r.Name, res, r.Duration.Round(time.Millisecond))
	}
	tw.Flush()
	for _, r := range rs {
		if r.Failed() {
			fmt.Fprintf(w, "\nFAIL %s %s: %s (%s)\n  %s\n", r.Platform, r.Kind, r.Name, r.Image, strings.ReplaceAll(r.Message, "\n", "\n  "))
		}
	}
	s := Summarize(rs)
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Skips   int          `xml:"skipped,attr"`
	Time    string       `xml:"time,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name  string      `xml:"name,attr"`
	ID    int         `xml:"id,attr"`
	Tests int         `xml:"tests,attr"`
	Fails int         `xml:"failures,attr"`
	Errs  int         `xml:"errors,attr"`
	Skips int         `xml:"skipped,attr"`
	Time  string      `xml:"time,attr"`
	Cases []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes results as JUnit XML: one test suite per image and
// platform, one test case per test.
func WriteJUnit(w io.Writer, rs []Result) error {
	var doc junitSuites
	byKey := map[string]int{}
	var total time.Duration
	for _, r := range rs {
		key := r.Image + " " + r.Platform
		i, ok := byKey[key]
		if !ok {
			i = len(doc.Suites)
			byKey[key] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: r.Platform + " " + r.Image, ID: i})
		}
		s := &doc.Suites[i]
		c := junitCase{Name: r.Kind + ": " + r.Name, Classname: "polyarch." + strings.ReplaceAll(r.Platform, "/", "_"), Time: seconds(r.Duration)}
		first, _, _ := strings.Cut(r.Message, "\n")
		switch {
		case r.Skipped:
			c.Skipped = &junitMessage{Message: first}
			s.Skips++
			doc.Skips++
		case !r.Passed:
			c.Failure = &junitMessage{Message: first, Body: r.Message}
			s.Fails++
			doc.Fails++
		}
		s.Tests++
		doc.Tests++
		d, _ := time.ParseDuration(s.Time + "s")
		s.Time = seconds(d + r.Duration)
		total += r.Duration
		s.Cases = append(s.Cases, c)
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
