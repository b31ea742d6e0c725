package build_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/platform"
)

// fakeNode is a build.Emulator whose Build the test supplies. It emulates
// every platform but those in cannot.
type fakeNode struct {
	name     string
	native   []v1.Platform
	cannot   map[string]error
	parallel int
	build    func(ctx context.Context, job build.Job, log io.Writer) (build.Output, error)
}

func (n *fakeNode) CanEmulate(p v1.Platform) error { return n.cannot[platform.Format(p)] }

func (n *fakeNode) Name() string  { return n.name }
func (n *fakeNode) Parallel() int { return n.parallel }
func (n *fakeNode) Native(p v1.Platform) bool {
	for _, q := range n.native {
		if platform.Same(p, q) {
			return true
		}
	}
	return false
}

func (n *fakeNode) Build(ctx context.Context, job build.Job, log io.Writer) (build.Output, error) {
	if n.build == nil {
		return build.Output{Ref: job.Ref, Digest: digestOf(job)}, nil
	}
	return n.build(ctx, job, log)
}

// digestOf is a fake digest that says which job it came from.
func digestOf(j build.Job) string {
	return "sha256:" + strings.NewReplacer("/", "-", " ", "_", "@", "-").Replace(j.Name())
}

func plat(t *testing.T, s string) v1.Platform {
	t.Helper()
	p, err := platform.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func job(t *testing.T, image, version, p string) build.Job {
	t.Helper()
	return build.Job{Image: image, Version: version, Platform: plat(t, p), Ref: "reg.example/" + image + ":" + strings.ReplaceAll(p, "/", "-")}
}

func TestRoute(t *testing.T) {
	arm := &fakeNode{name: "arm-box", native: []v1.Platform{plat(t, "linux/arm64"), plat(t, "linux/arm/v7")}}
	arm2 := &fakeNode{name: "arm-box-2", native: []v1.Platform{plat(t, "linux/arm64")}}
	s390 := &fakeNode{name: "z", native: []v1.Platform{plat(t, "linux/s390x")}}
	local := &fakeNode{name: "local", native: []v1.Platform{plat(t, "linux/amd64")}}

	type want struct {
		node   string
		native bool
	}
	cases := []struct {
		name     string
		platform string
		nodes    []build.Node
		local    build.Emulator
		want     want
	}{
		{"native on a remote node goes there", "linux/arm64", []build.Node{arm}, local, want{"arm-box", true}},
		{"an alias of a native platform goes there too", "linux/aarch64", []build.Node{s390, arm}, local, want{"arm-box", true}},
		{"the first native node wins", "linux/arm64", []build.Node{arm2, arm}, local, want{"arm-box-2", true}},
		{"no native node: local emulates", "linux/ppc64le", []build.Node{arm, s390}, local, want{"local", false}},
		{"local's own platform is native on local", "linux/amd64", []build.Node{arm}, local, want{"local", true}},
		{"arm/v6 is not arm/v7: emulated", "linux/arm/v6", []build.Node{arm}, local, want{"local", false}},
		{"native remote needs no local", "linux/s390x", []build.Node{s390}, nil, want{"z", true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := job(t, "agent", "", tc.platform)
			as, err := build.Router{Nodes: tc.nodes, Local: tc.local}.Route([]build.Job{j})
			if err != nil {
				t.Fatal(err)
			}
			if len(as) != 1 {
				t.Fatalf("%d assignments for one job", len(as))
			}
			if got := (want{as[0].Node.Name(), as[0].Native}); got != tc.want {
				t.Errorf("%s went to %+v, want %+v", tc.platform, got, tc.want)
			}
			if as[0].Job.Ref != j.Ref {
				t.Errorf("assignment changed the job: %+v", as[0].Job)
			}
			n, native, err := build.Router{Nodes: tc.nodes, Local: tc.local}.For(plat(t, tc.platform))
			if err != nil || n.Name() != tc.want.node || native != tc.want.native {
				t.Errorf("For(%s) = %v, %v, %v; Route said %+v", tc.platform, n, native, err, tc.want)
			}
		})
	}
}

func TestRouteKeepsJobOrder(t *testing.T) {
	arm := &fakeNode{name: "arm-box", native: []v1.Platform{plat(t, "linux/arm64")}}
	local := &fakeNode{name: "local", native: []v1.Platform{plat(t, "linux/amd64")}}
	jobs := []build.Job{job(t, "a", "", "linux/amd64"), job(t, "a", "", "linux/arm64"), job(t, "a", "", "linux/riscv64"), job(t, "b", "", "linux/arm64")}
	as, err := build.Router{Nodes: []build.Node{arm}, Local: local}.Route(jobs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range as {
		got = append(got, fmt.Sprintf("%s=%s/%v", a.Job.Name(), a.Node.Name(), a.Native))
	}
	want := "a linux/amd64=local/true a linux/arm64=arm-box/true a linux/riscv64=local/false b linux/arm64=arm-box/true"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestRouteWithoutLocalNamesThePlatform(t *testing.T) {
	arm := &fakeNode{name: "arm-box", native: []v1.Platform{plat(t, "linux/arm64")}}
	jobs := []build.Job{job(t, "agent", "1.4", "linux/arm64"), job(t, "agent", "1.4", "linux/s390x")}
	as, err := build.Router{Nodes: []build.Node{arm}}.Route(jobs)
	if err == nil {
		t.Fatalf("routed %d jobs with no node for linux/s390x", len(as))
	}
	for _, w := range []string{"agent@1.4", "linux/s390x", "no local node"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// A platform the local node cannot emulate is refused when jobs are routed,
// naming it once with every job that needs it and the local node's reason;
// nothing is assigned, so nothing is built.
func TestRouteRefusesWhatTheLocalNodeCannotEmulate(t *testing.T) {
	noWindows := errors.New("the local node runs linux containers only")
	local := &fakeNode{name: "local", native: []v1.Platform{plat(t, "linux/amd64")}, cannot: map[string]error{
		"windows/amd64": noWindows,
		"linux/s390x":   errors.New("no binfmt_misc handler qemu-s390x"),
	}}
	r := build.Router{Local: local}
	jobs := []build.Job{job(t, "a", "", "linux/amd64"), job(t, "a", "", "windows/amd64"), job(t, "b", "", "windows/amd64"), job(t, "a", "", "linux/s390x"), job(t, "a", "", "linux/arm64")}
	as, err := r.Route(jobs)
	if err == nil || as != nil {
		t.Fatalf("Route = %d assignments, %v; want none and an error", len(as), err)
	}
	var ue *build.UnservedError
	if !errors.As(err, &ue) || !errors.Is(err, noWindows) {
		t.Errorf("error %v is not an UnservedError wrapping the local node's reason", err)
	}
	msg := err.Error()
	for _, w := range []string{"a windows/amd64, b windows/amd64: no builder node builds windows/amd64 natively and the local node cannot emulate it: the local node runs linux containers only",
		"a linux/s390x: no builder node builds linux/s390x natively and the local node cannot emulate it: no binfmt_misc handler qemu-s390x"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not say %q:\n%s", w, msg)
		}
	}
	if strings.Count(msg, "windows/amd64 natively") != 1 || strings.Contains(msg, "arm64") {
		t.Errorf("each unserved platform once, and only those:\n%s", msg)
	}
	if _, _, err := r.For(plat(t, "linux/arm64")); err != nil {
		t.Errorf("For(linux/arm64): %v; the local node emulates it", err)
	}
}

func TestRunResultsInAssignmentOrder(t *testing.T) {
	// The first job finishes last: it waits until every other has finished.
	const n = 5
	var finished atomic.Int32
	allOthers := make(chan struct{})
	node := &fakeNode{name: "n", parallel: n}
	node.build = func(ctx context.Context, j build.Job, log io.Writer) (build.Output, error) {
		if j.Image == "img0" {
			select {
			case <-allOthers:
			case <-ctx.Done():
				return build.Output{}, ctx.Err()
			}
		} else if finished.Add(1) == n-1 {
			close(allOthers)
		}
		return build.Output{Ref: j.Ref, Digest: digestOf(j)}, nil
	}
	var as []build.Assignment
	for i := range n {
		as = append(as, build.Assignment{Job: job(t, fmt.Sprintf("img%d", i), "", "linux/amd64"), Node: node, Native: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs := build.Run(ctx, as, build.RunOptions{LogDir: t.TempDir()})
	if len(rs) != n {
		t.Fatalf("%d results for %d assignments", len(rs), n)
	}
	for i, r := range rs {
		if r.Err != nil {
			t.Errorf("result %d: %v", i, r.Err)
		}
		if r.Job.Image != as[i].Job.Image || r.Output.Digest != digestOf(as[i].Job) || r.Output.Ref != as[i].Job.Ref {
			t.Errorf("result %d is for %s (%s), want %s", i, r.Job.Name(), r.Output.Digest, as[i].Job.Name())
		}
		if r.Node != "n" || !r.Native {
			t.Errorf("result %d: node %q native %v", i, r.Node, r.Native)
		}
	}
}

func TestRunGoesOnAfterAFailure(t *testing.T) {
	boom := errors.New("exit code 1: RUN make")
	node := &fakeNode{name: "n", parallel: 1}
	node.build = func(ctx context.Context, j build.Job, log io.Writer) (build.Output, error) {
		fmt.Fprintf(log, "building %s\n", j.Name())
		if j.Platform.Architecture == "arm64" {
			return build.Output{}, boom
		}
		return build.Output{Ref: j.Ref, Digest: digestOf(j)}, nil
	}
	jobs := []build.Job{job(t, "a", "", "linux/amd64"), job(t, "a", "", "linux/arm64"), job(t, "a", "", "linux/s390x")}
	var as []build.Assignment
	for _, j := range jobs {
		as = append(as, build.Assignment{Job: j, Node: node})
	}
	rs := build.Run(context.Background(), as, build.RunOptions{LogDir: t.TempDir()})
	for i, r := range rs {
		failed := jobs[i].Platform.Architecture == "arm64"
		switch {
		case failed && !errors.Is(r.Err, boom):
			t.Errorf("%s: error %v, want %v", r.Job.Name(), r.Err, boom)
		case failed && r.Output.Digest != "":
			t.Errorf("%s failed but reports digest %s", r.Job.Name(), r.Output.Digest)
		case !failed && r.Err != nil:
			t.Errorf("%s: %v (another job's failure stopped it?)", r.Job.Name(), r.Err)
		case !failed && r.Output.Digest != digestOf(jobs[i]):
			t.Errorf("%s: digest %q", r.Job.Name(), r.Output.Digest)
		}
	}
	log, err := os.ReadFile(rs[1].LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "# failed after ") || !strings.Contains(string(log), boom.Error()) {
		t.Errorf("the failed build's log does not say it failed and why:\n%s", log)
	}
}

// capacityNode counts its concurrent builds. Each build waits until its
// group of Parallel() arrivals is complete, so a node that is given its whole
// capacity fills it, and one given more shows it.
type capacityNode struct {
	fakeNode
	inflight, max, arrived atomic.Int32
	mu                     sync.Mutex
	groups                 map[int32]chan struct{}
}

func newCapacityNode(name string, parallel int) *capacityNode {
	n := &capacityNode{fakeNode: fakeNode{name: name, parallel: parallel}, groups: map[int32]chan struct{}{}}
	n.build = n.barrierBuild
	return n
}

func (n *capacityNode) group(g int32) chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.groups[g] == nil {
		n.groups[g] = make(chan struct{})
	}
	return n.groups[g]
}

func (n *capacityNode) barrierBuild(ctx context.Context, j build.Job, log io.Writer) (build.Output, error) {
	cur := n.inflight.Add(1)
	defer n.inflight.Add(-1)
	for {
		m := n.max.Load()
		if cur <= m || n.max.CompareAndSwap(m, cur) {
			break
		}
	}
	arrival := n.arrived.Add(1) - 1
	size := int32(max(n.parallel, 1))
	g := n.group(arrival / size)
	if arrival%size == size-1 {
		close(g)
	}
	select {
	case <-g:
	case <-ctx.Done():
		return build.Output{}, fmt.Errorf("only %d of %d builds ever ran at once on %s: %w", n.max.Load(), size, n.name, ctx.Err())
	}
	return build.Output{Ref: j.Ref, Digest: digestOf(j)}, nil
}

func TestRunRespectsEachNodesCapacity(t *testing.T) {
	cases := []struct {
		name     string
		capacity []int // per node
		rounds   int   // jobs per node = capacity x rounds
	}{
		// With a capacity of 1 the barrier holds nobody: this case checks
		// builds run one by one without deadlock, the others that a node
		// never runs more than its capacity.
		{"one node of 1", []int{1}, 4},
		{"one node of 3", []int{3}, 3},
		{"two nodes, 2 and 4", []int{2, 4}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var nodes []*capacityNode
			var as []build.Assignment
			for i, c := range tc.capacity {
				n := newCapacityNode(fmt.Sprintf("node%d", i), c)
				nodes = append(nodes, n)
				for k := range c * tc.rounds {
					as = append(as, build.Assignment{Job: job(t, fmt.Sprintf("img%d-%d", i, k), "", "linux/amd64"), Node: n})
				}
			}
			// The timeout only ends a deadlock (a node given less than its
			// capacity never fills its barrier); nothing here is timed.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rs := build.Run(ctx, as, build.RunOptions{LogDir: t.TempDir()})
			for _, r := range rs {
				if r.Err != nil {
					t.Fatalf("%s: %v", r.Job.Name(), r.Err)
				}
			}
			for i, n := range nodes {
				if got := n.max.Load(); got != int32(tc.capacity[i]) {
					t.Errorf("%s: at most %d builds at once, want its capacity %d", n.name, got, tc.capacity[i])
				}
			}
		})
	}
}

func TestRunTreatsCapacityBelowOneAsOne(t *testing.T) {
	n := newCapacityNode("zero", 0)
	var as []build.Assignment
	for k := range 4 {
		as = append(as, build.Assignment{Job: job(t, fmt.Sprintf("img%d", k), "", "linux/amd64"), Node: n})
	}
	// The timeout only ends a deadlock (a semaphore of size 0 admits nobody).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, r := range build.Run(ctx, as, build.RunOptions{LogDir: t.TempDir()}) {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Job.Name(), r.Err)
		}
	}
	if got := n.max.Load(); got != 1 {
		t.Errorf("a node with Parallel() 0 ran %d builds at once, want 1", got)
	}
}

func TestRunWritesOneLogPerBuild(t *testing.T) {
	node := &fakeNode{name: "arm-box", parallel: 2}
	node.build = func(ctx context.Context, j build.Job, log io.Writer) (build.Output, error) {
		fmt.Fprintf(log, "#1 [internal] load build definition\n#2 RUN uname -m\n#2 0.1 %s\n", j.Platform.Architecture)
		if j.Image == "broken" {
			io.WriteString(log, "ERROR: no space left\n")
			return build.Output{}, errors.New("solve failed")
		}
		return build.Output{Ref: j.Ref, Digest: "sha256:abc"}, nil
	}
	dir := filepath.Join(t.TempDir(), "logs", "nested") // Run creates it
	ok := job(t, "agent", "1.4", "linux/arm/v7")
	broken := job(t, "broken", "", "linux/arm64")
	rs := build.Run(context.Background(), []build.Assignment{{Job: ok, Node: node, Native: false}, {Job: broken, Node: node, Native: true}}, build.RunOptions{LogDir: dir})

	cases := []struct {
		name   string
		result build.Result
		file   string
		body   string // the log up to its footer
		footer string // the footer's beginning (the rest is the duration)
		end    string
	}{
		{"pushed", rs[0], "agent@1.4_linux-arm-v7.log",
			"# agent@1.4 linux/arm/v7 on node arm-box (emulated) -> " + ok.Ref + "\n#1 [internal] load build definition\n#2 RUN uname -m\n#2 0.1 arm\n",
			"# pushed " + ok.Ref + "@sha256:abc in ", ""},
		{"failed", rs[1], "broken_linux-arm64.log",
			"# broken linux/arm64 on node arm-box (native) -> " + broken.Ref + "\n#1 [internal] load build definition\n#2 RUN uname -m\n#2 0.1 arm64\nERROR: no space left\n",
			"# failed after ", ": solve failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if want := filepath.Join(dir, tc.file); tc.result.LogFile != want {
				t.Errorf("log file %s, want %s", tc.result.LogFile, want)
			}
			b, err := os.ReadFile(tc.result.LogFile)
			if err != nil {
				t.Fatal(err)
			}
			log := string(b)
			footer, found := strings.CutPrefix(log, tc.body)
			if !found {
				t.Fatalf("log:\n%s\nwant it to begin:\n%s", log, tc.body)
			}
			if !strings.HasPrefix(footer, tc.footer) || !strings.HasSuffix(footer, tc.end+"\n") || strings.Count(footer, "\n") != 1 {
				t.Errorf("log ends %q, want one line %q<duration>%q", footer, tc.footer, tc.end)
			}
		})
	}
}

// A node whose output ends mid-line (a build killed while printing) should
// still get its footer on a line of its own, where a reader of the log's
// tail (build.Tail, the HTML report) sees it.
func TestRunLogFooterStartsItsOwnLine(t *testing.T) {
	node := &fakeNode{name: "n", parallel: 1, build: func(ctx context.Context, j build.Job, log io.Writer) (build.Output, error) {
		io.WriteString(log, "#4 RUN make\nERROR: killed")
		return build.Output{}, errors.New("signal: killed")
	}}
	rs := build.Run(context.Background(), []build.Assignment{{Job: job(t, "a", "", "linux/amd64"), Node: node}}, build.RunOptions{LogDir: t.TempDir()})
	tail := build.Tail(rs[0].LogFile, 2)
	lines := strings.Split(tail, "\n")
	if len(lines) != 2 || lines[0] != "ERROR: killed" || !strings.HasPrefix(lines[1], "# failed after ") {
		t.Errorf("log tail %q: want the node's last line, then the footer on its own", tail)
	}
}

func TestRunLogDirThatCannotBeCreated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	called := false
	node := &fakeNode{name: "n", parallel: 1, build: func(context.Context, build.Job, io.Writer) (build.Output, error) {
		called = true
		return build.Output{}, nil
	}}
	rs := build.Run(context.Background(), []build.Assignment{{Job: job(t, "a", "", "linux/amd64"), Node: node}, {Job: job(t, "a", "", "linux/arm64"), Node: node}}, build.RunOptions{LogDir: filepath.Join(file, "logs")})
	if len(rs) != 2 {
		t.Fatalf("%d results", len(rs))
	}
	for _, r := range rs {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "log directory") {
			t.Errorf("%s: error %v, want one about the log directory", r.Job.Name(), r.Err)
		}
	}
	if called {
		t.Error("built without anywhere to keep the log")
	}
}

// TestConsoleLinesArePrefixedAndWhole has two builds write their progress in
// fragments, each handing over to the other mid-line, so a console that
// passed writes straight through would mix them within a line.
func TestConsoleLinesArePrefixedAndWhole(t *testing.T) {
	a := job(t, "agent", "1.4", "linux/arm64")
	b := job(t, "agent", "1.4", "linux/arm/v7")
	lines := map[string][]string{
		a.Name(): {"#1 resolve image config for docker.io/library/busybox", "#2 [1/2] FROM busybox", "#3 DONE 0.4s", "tail without newline"},
		b.Name(): {"#1 resolve image config for docker.io/library/alpine", "#2 [1/2] RUN apk add make", "#3 DONE 9.1s", "other tail"},
	}
	// turn passes between the builds: each writes one fragment per turn.
	turnA, turnB := make(chan struct{}), make(chan struct{})
	var stop sync.Once
	done := make(chan struct{})
	node := &fakeNode{name: "n", parallel: 2}
	node.build = func(ctx context.Context, j build.Job, log io.Writer) (build.Output, error) {
		mine, theirs := turnA, turnB
		if j.Name() == b.Name() {
			mine, theirs = turnB, turnA
		}
		var frags []string
		for i, l := range lines[j.Name()] {
			if i < len(lines[j.Name()])-1 {
				l += "\n"
			}
			half := len(l) / 2
			frags = append(frags, l[:half], l[half:])
		}
		for _, f := range frags {
			select {
			case <-mine:
			case <-done:
			case <-ctx.Done():
				return build.Output{}, ctx.Err()
			}
			io.WriteString(log, f)
			select {
			case theirs <- struct{}{}:
			case <-done:
			case <-ctx.Done():
				return build.Output{}, ctx.Err()
			}
		}
		stop.Do(func() { close(done) })
		return build.Output{Ref: j.Ref, Digest: "sha256:1"}, nil
	}
	go func() { turnA <- struct{}{} }() // agent arm64 starts
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var console bytes.Buffer
	rs := build.Run(ctx, []build.Assignment{{Job: a, Node: node}, {Job: b, Node: node}}, build.RunOptions{LogDir: t.TempDir(), Console: &console})
	for _, r := range rs {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}

	want := map[string]bool{}
	for name, ls := range lines {
		for _, l := range ls {
			want["["+name+"] "+l] = true
		}
	}
	out := console.String()
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("console output does not end with a newline: %q", out)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range got {
		if !want[l] {
			t.Errorf("console line %q is not one whole, prefixed line of one build", l)
		}
		delete(want, l)
	}
	for l := range want {
		t.Errorf("console lacks %q", l)
	}
	if t.Failed() {
		t.Logf("console:\n%s", out)
	}

	// The log files get the fragments unprefixed.
	log, err := os.ReadFile(rs[0].LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "\n"+strings.Join(lines[a.Name()], "\n")) {
		t.Errorf("log of %s:\n%s", a.Name(), log)
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	five := write("five.log", "one\ntwo\nthree\nfour\nfive\n")
	cases := []struct {
		name, file string
		n          int
		want       string
	}{
		{"last two", five, 2, "four\nfive"},
		{"exactly all", five, 5, "one\ntwo\nthree\nfour\nfive"},
		{"more than there are", five, 12, "one\ntwo\nthree\nfour\nfive"},
		{"no trailing newline", write("open.log", "a\nb\nc"), 2, "b\nc"},
		{"blank lines inside count", write("blank.log", "a\n\nb\n"), 2, "\nb"},
		{"missing file", filepath.Join(dir, "nope.log"), 3, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := build.Tail(tc.file, tc.n); got != tc.want {
				t.Errorf("Tail(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

func TestJobName(t *testing.T) {
	cases := []struct {
		job  build.Job
		want string
	}{
		{build.Job{Image: "agent", Platform: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}}, "agent linux/arm/v7"},
		{build.Job{Image: "builder", Version: "2.4", Platform: v1.Platform{OS: "linux", Architecture: "s390x"}}, "builder@2.4 linux/s390x"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.job.Name(); got != tc.want {
				t.Errorf("Name() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNodeErrorUnwraps(t *testing.T) {
	cause := context.DeadlineExceeded
	err := fmt.Errorf("building: %w", &build.NodeError{Node: "arm-box", Err: cause})
	if !errors.Is(err, cause) {
		t.Error("NodeError hides its cause from errors.Is")
	}
	var ne *build.NodeError
	if !errors.As(err, &ne) || ne.Node != "arm-box" {
		t.Fatalf("errors.As: %v", err)
	}
	if !strings.Contains(err.Error(), `"arm-box"`) || !strings.Contains(err.Error(), "polyarch builder status") {
		t.Errorf("message %q does not name the node and how to check it", err)
	}
}

func TestRunReportsEachStartAndEnd(t *testing.T) {
	node := &fakeNode{name: "n", parallel: 3, build: func(ctx context.Context, j build.Job, log io.Writer) (build.Output, error) {
		if j.Platform.Architecture == "s390x" {
			return build.Output{}, errors.New("no")
		}
		return build.Output{Ref: j.Ref, Digest: digestOf(j)}, nil
	}}
	var as []build.Assignment
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/s390x", "linux/ppc64le"} {
		as = append(as, build.Assignment{Job: job(t, "a", "", p), Node: node})
	}
	var mu sync.Mutex
	started := map[int]string{}
	done := map[int]build.Result{}
	rs := build.Run(context.Background(), as, build.RunOptions{
		LogDir: t.TempDir(),
		OnStart: func(i int, a build.Assignment) {
			mu.Lock()
			defer mu.Unlock()
			if _, twice := started[i]; twice {
				t.Errorf("OnStart(%d) twice", i)
			}
			if _, ended := done[i]; ended {
				t.Errorf("OnStart(%d) after OnDone", i)
			}
			started[i] = a.Job.Name()
		},
		OnDone: func(i int, r build.Result) {
			mu.Lock()
			defer mu.Unlock()
			if _, ok := started[i]; !ok {
				t.Errorf("OnDone(%d) without OnStart", i)
			}
			done[i] = r
		},
	})
	for i, a := range as {
		if started[i] != a.Job.Name() {
			t.Errorf("OnStart(%d) got %q, want %q", i, started[i], a.Job.Name())
		}
		d, ok := done[i]
		if !ok {
			t.Errorf("no OnDone(%d)", i)
			continue
		}
		if d.Job.Name() != a.Job.Name() || d.Output != rs[i].Output || (d.Err == nil) != (rs[i].Err == nil) || d.LogFile != rs[i].LogFile {
			t.Errorf("OnDone(%d) got %+v, Run returned %+v", i, d, rs[i])
		}
	}
}
