// Package report is a release's run report: its data (Report, filled in by
// pipeline.Release), written as JSON for machines and as a self-contained
// HTML page for people: a matrix of image versions x platforms, each cell
// with its status, digest, size, duration, node (native or emulated) and
// tests. It imports data types only, not the machinery that produced them.
package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"

	"github.com/polyarch/polyarch/imagetest/result"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type cell struct {
	*Target
	Class, Passed, Failed string
	Failures              []result.Result
}

type row struct {
	*Unit
	Class string
	Cells []*cell // one per column; nil where the unit lacks the platform
}

type page struct {
	Started   string
	Duration  string
	OK        bool
	Platforms []string
	Rows      []row
}

// WriteHTML writes the report as one HTML page with no external resources.
func WriteHTML(w io.Writer, r *Report) error {
	p := page{Started: r.Started.UTC().Format(time.RFC3339), Duration: r.Duration.Round(time.Second).String(), OK: r.OK}
	seen := map[string]bool{}
	for _, u := range r.Units {
		for _, t := range u.Targets {
			if !seen[t.Platform] {
				seen[t.Platform] = true
				p.Platforms = append(p.Platforms, t.Platform)
			}
		}
	}
	sort.Strings(p.Platforms)
	for _, u := range r.Units {
		rw := row{Unit: u, Class: unitClass(u.Status)}
		for _, plat := range p.Platforms {
			var c *cell
			for _, t := range u.Targets {
				if t.Platform == plat {
					c = &cell{Target: t, Class: targetClass(t)}
					s := result.Summarize(t.Tests)
					c.Passed, c.Failed = fmt.Sprint(s.Passed), fmt.Sprint(s.Failed)
					for _, tr := range t.Tests {
						if tr.Failed() {
							c.Failures = append(c.Failures, tr)
						}
					}
				}
			}
			rw.Cells = append(rw.Cells, c)
		}
		p.Rows = append(p.Rows, rw)
	}
	return pageTemplate.Execute(w, p)
}

func unitClass(s Status) string {
	switch {
	case s.Published():
		return "ok"
	case s == Waiting || s == Superseded:
		return "warn"
	}
	return "bad"
}

func targetClass(t *Target) string {
	switch {
	case t.Status.Passed():
		return "ok"
	case t.LeftOut:
		return "warn"
	case t.Status == NotRun:
		return "none"
	}
	return "bad"
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n > 0:
		return fmt.Sprintf("%d B", n)
	}
	return ""
}

func duration(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"short": shortDigest, "size": size, "dur": duration,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>polyarch release {{if .OK}}passed{{else}}FAILED{{end}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} .verdict.ok{color:#17692c} .verdict.bad{color:#b00020}
table{border-collapse:collapse;margin-top:1em} th,td{border:1px solid #ccc;padding:.5em;vertical-align:top;text-align:left}
th{background:#f4f4f4} td.ok{background:#e6f4ea} td.bad{background:#fdecea} td.warn{background:#fff6e0} td.none{background:#f7f7f7;color:#888}
code{font-size:12px;word-break:break-all} .status{font-weight:600;text-transform:uppercase;font-size:12px} .small{font-size:12px;color:#555}
pre{white-space:pre-wrap;font-size:12px;margin:.3em 0;max-width:36em}
</style></head><body>
<h1>polyarch release: <span class="verdict {{if .OK}}ok{{else}}bad{{end}}">{{if .OK}}every image published{{else}}FAILED{{end}}</span></h1>
<p class="small">started {{.Started}}, took {{.Duration}}</p>
<table>
<tr><th>image</th>{{range .Platforms}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>
<td class="{{.Class}}"><b>{{.Name}}</b><br><span class="status">{{.Status}}</span><br><code>{{.IndexRef}}</code>
{{if .Digest}}<br><code class="digest" title="{{.Digest}}">{{short .Digest}}</code>{{end}}
{{with .Signed}}<br><span class="small signed">signed ({{.Format}}), {{.Platforms}} platforms{{if .Evidence}} with SBOM and provenance{{end}} · {{dur .Duration}}</span>{{end}}
{{if .Reason}}<pre>{{.Reason}}</pre>{{end}}</td>
{{range .Cells}}{{if .}}<td class="{{.Class}}" data-platform="{{.Platform}}">
<span class="status">{{.Status}}</span>{{if .Optional}} <span class="small">(optional{{if .LeftOut}}, left out{{end}})</span>{{end}}<br>
{{if .Digest}}<code class="digest" title="{{.Digest}}">{{short .Digest}}</code><br>{{end}}
<span class="small">{{if .Native}}native{{else}}emulated{{end}} on {{.Node}}{{if .Size}} · {{size .Size}}{{end}} · build {{dur .BuildTime}}{{if .TestTime}} · tests {{dur .TestTime}}{{end}}</span><br>
{{if .Tests}}<span class="small">tests: {{.Passed}} passed, {{.Failed}} failed{{if .TestsReused}} (passed before, not rerun){{end}}</span>{{end}}
{{with .CI}}<br><span class="small ci">{{if .URL}}<a href="{{.URL}}">{{.String}}</a>{{else}}{{.String}}{{end}}</span>{{end}}
{{range .Failures}}<pre>✗ {{.Kind}}: {{.Name}}
{{.Message}}</pre>{{end}}
{{if and .Error (not .Failures)}}<details open><summary class="small">error and log tail{{if .LogFile}} (whole log: <code>{{.LogFile}}</code>){{end}}</summary><pre>{{.Error}}</pre></details>{{end}}
</td>{{else}}<td class="none">—</td>{{end}}{{end}}
</tr>{{end}}
</table>
</body></html>
`))
