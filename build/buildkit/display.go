package buildkit

import (
	"context"
	"io"

	bk "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/opencontainers/go-digest"
)

// Display is BuildKit's own terminal progress view for several builds at
// once: each build's steps are shown under its name ("[app linux/arm64]
// RUN make"), as buildx shows a bake.
type Display struct {
	ch   chan *bk.SolveStatus
	done chan struct{}
}

// NewDisplay starts the view on w, a terminal.
func NewDisplay(ctx context.Context, w io.Writer) (*Display, error) {
	pd, err := progressui.NewDisplay(w, progressui.TtyMode)
	if err != nil {
		return nil, err
	}
	d := &Display{ch: make(chan *bk.SolveStatus, 64), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		_, _ = pd.UpdateFrom(ctx, d.ch)
	}()
	return d, nil
}

// send shows one status of the build named name. Vertex digests are made
// unique per build: two builds of one context share some steps' digests,
// and the view would merge them.
func (d *Display) send(name string, s *bk.SolveStatus) {
	re := func(dg digest.Digest) digest.Digest { return digest.FromString(name + "\x00" + dg.String()) }
	out := &bk.SolveStatus{}
	for _, v := range s.Vertexes {
		c := *v
		c.Digest = re(v.Digest)
		c.Name = "[" + name + "] " + v.Name
		c.Inputs = nil
		for _, in := range v.Inputs {
			c.Inputs = append(c.Inputs, re(in))
		}
		out.Vertexes = append(out.Vertexes, &c)
	}
	for _, st := range s.Statuses {
		c := *st
		c.Vertex = re(st.Vertex)
		out.Statuses = append(out.Statuses, &c)
	}
	for _, l := range s.Logs {
		c := *l
		c.Vertex = re(l.Vertex)
		out.Logs = append(out.Logs, &c)
	}
	for _, w := range s.Warnings {
		c := *w
		c.Vertex = re(w.Vertex)
		out.Warnings = append(out.Warnings, &c)
	}
	d.ch <- out
}

// Close ends the view once every build has finished.
func (d *Display) Close() {
	close(d.ch)
	<-d.done
}
