package buildkit

import (
	"testing"

	bk "github.com/moby/buildkit/client"
	"github.com/opencontainers/go-digest"
)

func TestDisplayKeepsTwoBuildsStepsApart(t *testing.T) {
	d := &Display{ch: make(chan *bk.SolveStatus, 2)}
	step, base := digest.FromString("RUN make"), digest.FromString("FROM busybox")
	status := &bk.SolveStatus{
		Vertexes: []*bk.Vertex{{Digest: step, Name: "RUN make", Inputs: []digest.Digest{base}}},
		Statuses: []*bk.VertexStatus{{ID: "x", Vertex: step}},
		Logs:     []*bk.VertexLog{{Vertex: step, Data: []byte("ok\n")}},
	}
	d.send("app linux/arm64", status)
	d.send("app linux/s390x", status)
	a, b := <-d.ch, <-d.ch
	if a.Vertexes[0].Digest == b.Vertexes[0].Digest || a.Vertexes[0].Digest == step {
		t.Errorf("one step of two builds shares a digest in the view: %s %s", a.Vertexes[0].Digest, b.Vertexes[0].Digest)
	}
	if a.Vertexes[0].Name != "[app linux/arm64] RUN make" || b.Vertexes[0].Name != "[app linux/s390x] RUN make" {
		t.Errorf("names %q %q", a.Vertexes[0].Name, b.Vertexes[0].Name)
	}
	if a.Statuses[0].Vertex != a.Vertexes[0].Digest || a.Logs[0].Vertex != a.Vertexes[0].Digest {
		t.Error("statuses and logs do not follow their vertex's new digest")
	}
	if a.Vertexes[0].Inputs[0] == base || a.Vertexes[0].Inputs[0] == b.Vertexes[0].Inputs[0] {
		t.Error("inputs are not remapped per build")
	}
	if status.Vertexes[0].Name != "RUN make" || status.Vertexes[0].Digest != step {
		t.Error("send changed the status it was given (the build's own log reads it too)")
	}
}
