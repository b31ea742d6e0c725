package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
)

// releaseView shows a release as it goes: on a terminal a matrix of image
// versions x platforms redrawn in place, elsewhere one line per step.
type releaseView struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	units    []string
	plats    []string
	cells    map[string]string // unit + "\x00" + platform -> state
	unitNote map[string]string
	drawn    int // lines drawn last time
	title    string
	started  time.Time
}

func newReleaseView(w io.Writer, plan *pipeline.Plan, title string) *releaseView {
	v := &releaseView{w: w, title: title, cells: map[string]string{}, unitNote: map[string]string{}, started: time.Now()}
	v.tty = isTerminal(w)
	seen := map[string]bool{}
	for _, u := range plan.Units {
		v.units = append(v.units, u.Name())
		for _, t := range u.Targets {
			p := platform.Format(t.Platform)
			v.cells[u.Name()+"\x00"+p] = "queued"
			if !seen[p] {
				seen[p] = true
				v.plats = append(v.plats, p)
			}
		}
	}
	return v
}

// Event is the pipeline's OnEvent; safe for concurrent use.
func (v *releaseView) Event(e pipeline.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.tty {
		fmt.Fprintln(v.w, e.Text)
		return
	}
	switch {
	case e.Unit != "" && e.Platform != "":
		v.cells[e.Unit+"\x00"+e.Platform] = cellText(e)
	case e.Unit != "":
		v.unitNote[e.Unit] = e.Stage + " " + e.State
		if e.State == pipeline.StateFailed {
			v.unitNote[e.Unit] = "NOT PUBLISHED"
		} else if e.Stage == pipeline.StagePublish && e.State == pipeline.StateDone {
			v.unitNote[e.Unit] = e.Status.String()
		}
	}
	v.draw()
}

func cellText(e pipeline.Event) string {
	switch e.State {
	case pipeline.StateRunning:
		return e.Stage + "ing..."
	case pipeline.StateFailed:
		return e.Stage + " FAILED"
	case pipeline.StateDone:
		if e.Stage == pipeline.StageBuild {
			return "built"
		}
		return "passed"
	}
	return e.Stage
}

func (v *releaseView) draw() {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\033[%dA", v.drawn)
	}
	width := 14
	for _, u := range v.units {
		if len(u)+2 > width {
			width = len(u) + 2
		}
	}
	lines := 0
	line := func(s string) {
		b.WriteString("\033[2K" + s + "\n")
		lines++
	}
	head := fmt.Sprintf("%-*s", width, v.title+" "+time.Since(v.started).Round(time.Second).String())
	for _, p := range v.plats {
		head += fmt.Sprintf("%-16s", p)
	}
	line(head)
	for _, u := range v.units {
		row := fmt.Sprintf("%-*s", width, u)
		for _, p := range v.plats {
			c, ok := v.cells[u+"\x00"+p]
			if !ok {
				c = "-"
			}
			row += fmt.Sprintf("%-16s", c)
		}
		line(row + v.unitNote[u])
	}
	v.drawn = lines
	io.WriteString(v.w, b.String())
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
