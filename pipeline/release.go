package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/report"
)

// ReleaseOptions tune Release.
type ReleaseOptions struct {
	// LogDir keeps each build's log, and each test job's.
	LogDir string
	// Remote reaches the registry.
	Remote []remote.Option
	// OnEvent, when set, is called at every step (build started and done,
	// tests done, published...), possibly from several goroutines at once.
	OnEvent func(Event)
	// BuildLog receives BuildKit's progress of every build, prefixed.
	BuildLog io.Writer
	// Ignore are globs the layer scan skips.
	Ignore []string
	// Force publishes over an index, or beside platforms, of a newer commit.
	Force bool
	// Settle is PublishOptions.Settle (default DefaultSettle).
	Settle time.Duration
	// Signing signs the test records this run writes and, once published,
	// every child and the index (PublishOptions.Signing).
	Signing *Signing
}

// A release's report; its types live in package report, which renders it.
type (
	Report       = report.Report
	UnitReport   = report.Unit
	TargetReport = report.Target
	Status       = report.Status
)

// Statuses of targets and units (report.Status).
const (
	StatusNotRun       = report.NotRun
	StatusPassed       = report.Passed
	StatusBuildFailed  = report.BuildFailed
	StatusTestsFailed  = report.TestsFailed
	StatusPublished    = report.Published
	StatusUnchanged    = report.Unchanged
	StatusNotPublished = report.NotPublished
)

// ErrReleaseFailed is returned (wrapped) when any unit was not published.
var ErrReleaseFailed = errors.New("release failed")

// Release builds every target of the plan, tests each built image by digest
// on its node and records the result in the registry, then runs each unit's
// publish step (PublishUnit): the index is published (its tags last) when
// every required platform of the image, built by this run or by another
// runner, is ready, and checked from every platform's point of view. A
// unit with a failed required target is not published: whatever its tags
// named before stays as it was. A plan of some platforms only (a CI runner's)
// leaves the unit waiting for the others, or superseded by a newer commit;
// neither is a failure. An optional target that did not pass is left out.
//
// Before anything is built, every target is given its node: a required
// platform that no node can build fails the release there, naming it and
// why (errors.As finds a *build.UnservedError); an optional one is left out.
func Release(ctx context.Context, plan *Plan, nodes Nodes, o ReleaseOptions) (*Report, error) {
	rep := &Report{Started: time.Now()}
	var evMu sync.Mutex
	emit := func(e Event) {
		if o.OnEvent != nil {
			evMu.Lock()
			defer evMu.Unlock()
			o.OnEvent(e)
		}
	}
	type slot struct {
		unit   *UnitReport
		target *TargetReport
		t      *Target
		u      *Unit
		rec    *TestRecord
	}
	var slots []slot
	var unserved build.UnservedErrors
	for _, u := range plan.Units {
		ur := &UnitReport{Name: u.Name(), Image: u.Image.Name, Version: u.Version, IndexRef: u.IndexRef(), Tags: u.Tags}
		rep.Units = append(rep.Units, ur)
		for _, t := range u.Targets {
			tr := &TargetReport{Platform: platform.Format(t.Platform), Optional: t.Optional, Ref: t.Job.Ref}
			ur.Targets = append(ur.Targets, tr)
			var err error
			if tr.Node, tr.Native, err = nodes.Describe(t.Platform); err != nil {
				tr.Error = err.Error()
				if !t.Optional {
					unserved = append(unserved, fmt.Errorf("%s %s: %w", u.Name(), tr.Platform, err))
				}
				continue // not built
			}
			slots = append(slots, slot{unit: ur, target: tr, t: t, u: u})
		}
	}
	if len(unserved) > 0 {
		return nil, unserved
	}

	// 1. Build everything, in parallel on its node.
	as := make([]build.Assignment, len(slots))
	for i, s := range slots {
		node, native, err := nodes.For(ctx, s.t.Platform)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", s.unit.Name, s.target.Platform, err)
		}
		as[i] = build.Assignment{Job: PushJob(s.t), Node: node, Native: native}
	}
	emit(Event{Stage: StageBuild, Text: fmt.Sprintf("building %d images on %s", len(as), nodeNames(as))})
	build.Run(ctx, as, build.RunOptions{LogDir: o.LogDir, Console: o.BuildLog,
		OnStart: func(i int, a build.Assignment) {
			emit(Event{Unit: slots[i].unit.Name, Platform: slots[i].target.Platform, Stage: StageBuild, State: StateRunning,
				Text: fmt.Sprintf("[%s %s] building on %s (%s)", slots[i].unit.Name, slots[i].target.Platform, a.Node.Name(), mode(a.Native))})
		},
		OnDone: func(i int, r build.Result) {
			tr := slots[i].target
			tr.Node, tr.Native, tr.BuildTime, tr.LogFile = r.Node, r.Native, r.Duration, r.LogFile
			if r.Err != nil {
				tr.Status, tr.Error = StatusBuildFailed, r.Err.Error()
				if tail := build.Tail(r.LogFile, 12); tail != "" {
					tr.Error += "\n" + tail
				}
				emit(Event{Unit: slots[i].unit.Name, Platform: tr.Platform, Stage: StageBuild, State: StateFailed,
					Text: fmt.Sprintf("[%s %s] build FAILED on %s: %v", slots[i].unit.Name, tr.Platform, r.Node, r.Err)})
				return
			}
			tr.Digest = r.Output.Digest
			if why, err := pushed(ctx, slots[i].u, slots[i].t, tr.Digest, o.Remote); err != nil {
				tr.Status, tr.Error, tr.Digest = StatusBuildFailed, err.Error(), ""
				emit(Event{Unit: slots[i].unit.Name, Platform: tr.Platform, Stage: StageBuild, State: StateFailed,
					Text: fmt.Sprintf("[%s %s] built, but %v", slots[i].unit.Name, tr.Platform, err)})
				return
			} else if why != "" {
				emit(Event{Unit: slots[i].unit.Name, Platform: tr.Platform, Stage: StageBuild, Text: fmt.Sprintf("[%s %s] %s", slots[i].unit.Name, tr.Platform, why)})
			}
			emit(Event{Unit: slots[i].unit.Name, Platform: tr.Platform, Stage: StageBuild, State: StateDone,
				Text: fmt.Sprintf("[%s %s] built %s on %s (%s, %s)", slots[i].unit.Name, tr.Platform, short(tr.Digest), r.Node, mode(r.Native), r.Duration.Round(100*time.Millisecond))})
		},
	})

	// 2. Test each built image by digest, unless it passed the same spec before.
	var jobs []imagetest.Job
	var jobSlots []int
	for i, s := range slots {
		if s.target.Digest == "" {
			continue
		}
		ref, err := digestRef(s.t.Job, s.target.Digest)
		if err != nil {
			return nil, err
		}
		t, err := imagetest.TargetByDigest(ctx, ref, o.Remote...)
		if err != nil {
			s.target.Status, s.target.Error = StatusTestsFailed, err.Error()
			continue
		}
		s.target.Size = imageSize(t.Image)
		spec := s.u.Test
		if spec == nil {
			if spec, err = TestSpec(plan.Config, s.u.Image); err != nil {
				return nil, err
			}
			s.u.Test = spec // one decode per unit, not per platform
		}
		if prev, _, err := findTestRecord(ctx, ref, platform.Format(s.t.Platform), SpecDigest(spec), o.Signing.recordKeys(), o.Remote); err == nil && prev != nil && prev.Passed {
			s.target.Tests, s.target.TestsReused, s.target.Status = prev.Results, true, StatusPassed
			slots[i].rec = prev
			emit(Event{Unit: s.unit.Name, Platform: s.target.Platform, Stage: StageTest, State: StateDone,
				Text: fmt.Sprintf("[%s %s] tests passed before for %s: not rerun", s.unit.Name, s.target.Platform, short(s.target.Digest))})
			continue
		}
		jobs = append(jobs, imagetest.Job{Target: t, Spec: spec})
		jobSlots = append(jobSlots, i)
	}
	if len(jobs) > 0 {
		emit(Event{Stage: StageTest, Text: fmt.Sprintf("testing %d images", len(jobs))})
		testerFor := func(ctx context.Context, p v1.Platform) (imagetest.Tester, error) {
			node, _, err := nodes.For(ctx, p)
			if err != nil {
				return nil, err
			}
			return node, nil
		}
		start := func(k int) {
			s := slots[jobSlots[k]]
			emit(Event{Unit: s.unit.Name, Platform: s.target.Platform, Stage: StageTest, State: StateRunning,
				Text: fmt.Sprintf("[%s %s] testing %s", s.unit.Name, s.target.Platform, short(s.target.Digest))})
		}
		// Each job's outcome is recorded as it ends, from its own goroutine;
		// the jobs are of distinct targets.
		done := func(k int, r imagetest.JobResult) {
			s := &slots[jobSlots[k]]
			s.target.Tests, s.target.TestTime = r.Results, r.Duration
			sum := imagetest.Summarize(r.Results)
			switch {
			case r.Err != nil:
				s.target.Status, s.target.Error = StatusTestsFailed, r.Err.Error()
				emit(Event{Unit: s.unit.Name, Platform: s.target.Platform, Stage: StageTest, State: StateFailed,
					Text: fmt.Sprintf("[%s %s] tests could not run: %v", s.unit.Name, s.target.Platform, r.Err)})
			case sum.Failed > 0:
				s.target.Status = StatusTestsFailed
				var msgs []string
				for _, t := range r.Results {
					if t.Failed() {
						msgs = append(msgs, t.Kind+": "+t.Name+": "+t.Message)
					}
				}
				s.target.Error = strings.Join(msgs, "\n")
				emit(Event{Unit: s.unit.Name, Platform: s.target.Platform, Stage: StageTest, State: StateFailed,
					Text: fmt.Sprintf("[%s %s] %d of %d tests FAILED", s.unit.Name, s.target.Platform, sum.Failed, len(r.Results))})
				var err error
				if s.rec, err = recordTests(ctx, s.u, s.t, s.target, jobs[k].Spec, r.Results, false, o.Signing, o.Remote); err != nil {
					emit(Event{Unit: s.unit.Name, Platform: s.target.Platform, Stage: StageTest,
						Text: fmt.Sprintf("[%s %s] could not record the test result (%v): other runners will say not tested", s.unit.Name, s.target.Platform, err)})
				}
			default:
				s.target.Status = StatusPassed
				emit(Event{Unit: s.unit.Name, Platform: s.target.Platform, Stage: StageTest, State: StateDone,
					Text: fmt.Sprintf("[%s %s] %d tests passed (%s)", s.unit.Name, s.target.Platform, sum.Passed, r.Duration.Round(100*time.Millisecond))})
				var err error
				if s.rec, err = recordTests(ctx, s.u, s.t, s.target, jobs[k].Spec, r.Results, true, o.Signing, o.Remote); err != nil {
					emit(Event{Unit: s.unit.Name, Platform: s.target.Platform, Stage: StageTest,
						Text: fmt.Sprintf("[%s %s] could not record the test result (%v): the next run will test again", s.unit.Name, s.target.Platform, err)})
				}
			}
		}
		imagetest.RunJobs(ctx, jobs, testerFor, imagetest.Options{Remote: o.Remote, Ignore: o.Ignore, LogDir: o.LogDir, SBOMLayers: o.Signing.sbomLayers()}, start, done)
	}

	// 3. Each unit's publish step, over every platform of its image.
	rep.OK = true
	for ui, u := range plan.Units {
		local := map[string]*Local{}
		for _, s := range slots {
			if s.u == u {
				local[s.target.Platform] = &Local{Digest: s.target.Digest, Record: s.rec, Err: s.target.Error}
			}
		}
		if !releasePublish(ctx, plan.Config, u, rep.Units[ui], local, o, emit) {
			rep.OK = false
		}
	}
	rep.Duration = time.Since(rep.Started)
	if !rep.OK {
		var names []string
		for _, ur := range rep.Units {
			if ur.Status == StatusNotPublished || ur.Status.Published() && ur.Reason != "" {
				names = append(names, ur.Name)
			}
		}
		return rep, fmt.Errorf("%w: %s", ErrReleaseFailed, strings.Join(names, ", "))
	}
	return rep, nil
}

func digestRef(j build.Job, digest string) (name.Digest, error) {
	repo := j.Ref
	if !j.ByDigest {
		r, err := name.ParseReference(j.Ref)
		if err != nil {
			return name.Digest{}, err
		}
		repo = r.Context().String()
	}
	return name.NewDigest(repo + "@" + digest)
}

func indexAnnotations(u *Unit) map[string]string {
	a := u.Git.Annotations(u.Version)
	for k, v := range u.Image.Annotations {
		a[k] = v
	}
	return a
}

func imageSize(img v1.Image) int64 {
	m, err := img.Manifest()
	if err != nil {
		return 0
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func nodeNames(as []build.Assignment) string {
	seen := map[string]bool{}
	var out []string
	for _, a := range as {
		if !seen[a.Node.Name()] {
			seen[a.Node.Name()] = true
			out = append(out, a.Node.Name())
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func mode(native bool) string {
	if native {
		return "native"
	}
	return "emulated"
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
