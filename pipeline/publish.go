package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/report"
)

// Outcome is what the publish step did with one image version.
type Outcome int

const (
	// Published: the index was written (then its tags).
	Published Outcome = iota
	// Unchanged: the index already was what the platforms' state gives.
	Unchanged
	// Waiting: some required platform is not ready; nothing was written.
	Waiting
	// Superseded: an index or platform of a newer commit is there; nothing
	// was written (Force overrides).
	Superseded
	// WouldPublish: a dry run that would write the index.
	WouldPublish
	// Failed: a required platform of this run failed, or the write or its
	// check failed.
	Failed
)

var outcomeNames = [...]string{Published: "published", Unchanged: "unchanged", Waiting: "waiting", Superseded: "superseded", WouldPublish: "would publish", Failed: "not published"}

// String is the outcome as reports say it.
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// MarshalText writes the outcome as its String.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Status is the unit's status in a run report.
func (o Outcome) Status() Status {
	switch o {
	case Published:
		return StatusPublished
	case Unchanged:
		return StatusUnchanged
	case Waiting:
		return report.Waiting
	case Superseded:
		return report.Superseded
	}
	return StatusNotPublished
}

// Done reports whether the index names this run's platforms (published or unchanged).
func (o Outcome) Done() bool { return o == Published || o == Unchanged }

// PublishOptions tune the publish step.
type PublishOptions struct {
	// Remote reaches the registry.
	Remote []remote.Option
	// DryRun gathers and decides, and writes nothing.
	DryRun bool
	// Force publishes over an index (or beside platforms) of a newer commit.
	Force bool
	// Settle is how long a runner waits for the runner that wrote the
	// newest test record to publish, before publishing itself (default
	// DefaultSettle). Runners finishing together thus write the index once.
	Settle time.Duration
	// OnEvent, when set, is called at every step.
	OnEvent func(Event)
	// Signing, when set (polyarch.yaml's sign:), signs every child and the
	// index once published, with each child's SBOM and provenance, and
	// makes only test records signed by its RecordKeys count.
	Signing *Signing
}

// DefaultSettle is PublishOptions.Settle's default.
const DefaultSettle = 15 * time.Second

// PublishResult is what the publish step did with one image version.
type PublishResult struct {
	Unit     string  `json:"unit"`
	IndexRef string  `json:"index"`
	Outcome  Outcome `json:"outcome"`
	// Digest is the index written, found, or (dry run) that would be written.
	Digest    string `json:"digest,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	// Reason says why it waits, was superseded or failed.
	Reason string `json:"reason,omitempty"`
	// Forced is set when Force replaced an index of a newer commit.
	Forced bool       `json:"forced,omitempty"`
	State  *UnitState `json:"state"`
	// Resolved is every platform's view of the published name.
	Resolved []index.Resolution `json:"resolved,omitempty"`
	// Cleaned lists the temporary tags deleted after the publish.
	Cleaned []string `json:"cleaned,omitempty"`
	// Signed is what signing did, with a sign: section.
	Signed *evidence.Result `json:"signed,omitempty"`
}

// PublishUnit is the publish step of one image version, for the runner that
// built some of its platforms (local, keyed by platform.Format) and for the
// merge job (local empty). u must be planned with every platform of its
// image (FullUnit). It gathers every platform's state from the registry,
// publishes the index when every required platform is ready and built from
// this run's commit, then its tags, checks each platform's view of the
// name, and deletes the temporary tags of digest-only children.
func PublishUnit(ctx context.Context, u *Unit, spec string, local map[string]*Local, o PublishOptions) (*PublishResult, error) {
	res := &PublishResult{Unit: u.Name(), IndexRef: u.IndexRef()}
	var err error
	if o.Remote, err = reuseClients(o.Remote); err != nil {
		return nil, err
	}
	emitAt := func(stage, state, text string) {
		if o.OnEvent != nil {
			e := Event{Unit: u.Name(), Stage: stage, State: state, Text: "[" + u.Name() + "] " + text}
			if state != StateRunning {
				e.Status = res.Outcome.Status()
			}
			o.OnEvent(e)
		}
	}
	emit := func(state, text string) { emitAt(StagePublish, state, text) }
	target, err := name.ParseReference(u.IndexRef())
	if err != nil {
		return nil, err
	}
	if !o.DryRun {
		if err := PushPendingTags(ctx, u, local, o.Remote...); err != nil {
			return nil, err
		}
	}
	st, err := Gather(ctx, u, spec, GatherOptions{Remote: o.Remote, Local: local, Signing: o.Signing})
	if err != nil {
		return nil, err
	}
	res.State = st
	var failed []string
	for _, p := range st.Platforms {
		if p.ThisRun && !p.Optional && p.Wait != Ready && p.Wait != Building {
			failed = append(failed, platform.Format(p.Platform)+" ("+p.Wait.String()+")")
		}
	}
	if len(failed) > 0 {
		res.Outcome, res.Reason = Failed, "required platforms failed: "+strings.Join(failed, ", ")
		emit(StateFailed, "NOT published: "+res.Reason+"; "+u.IndexRef()+" is left as it was")
		return res, nil
	}
	if old, why := st.Superseded(); old {
		if !o.Force {
			res.Outcome, res.Reason = Superseded, why+"; --force publishes anyway"
			emit(StateDone, "superseded: "+why+"; "+u.IndexRef()+" is left as it was")
			return res, nil
		}
		res.Forced = true
		emit(StateRunning, "--force: publishing although "+why)
	}
	if !st.Ready() {
		res.Outcome, res.Reason = Waiting, "waits for "+st.Reason()
		if len(st.Waiting()) == 0 {
			res.Outcome, res.Reason = Failed, "every platform is optional and none passed"
			emit(StateFailed, "NOT published: "+res.Reason+"; "+u.IndexRef()+" is left as it was")
			return res, nil
		}
		emit(StateDone, "waiting: "+u.IndexRef()+" "+res.Reason)
		return res, nil
	}

	req := index.Request{Target: target, Tags: u.Tags[1:], Sources: st.sources(), Annotations: indexAnnotations(u)}
	if o.DryRun {
		req.DryRun = true
		r, err := index.Publish(ctx, req, o.Remote...)
		if err != nil {
			return nil, err
		}
		res.Digest, res.MediaType = r.Digest, string(r.MediaType)
		res.Outcome = WouldPublish
		if r.Unchanged {
			res.Outcome = Unchanged
		}
		return res, nil
	}

	// Runners that finish together see the same records: the one that
	// wrote the newest publishes, the others wait for its index.
	if elected := st.elected(); len(local) > 0 && elected != nil && !elected.ThisRun {
		if unchanged, digest, err := awaitIndex(ctx, target, req, o, func() {
			emit(StateRunning, fmt.Sprintf("every platform is ready; waiting up to %s for the %s runner to publish", settle(o), platform.Format(elected.Platform)))
		}); err != nil {
			return nil, err
		} else if unchanged {
			res.Outcome, res.Digest = Unchanged, digest
		}
	}
	if res.Outcome != Unchanged {
		r, err := index.Publish(ctx, req, o.Remote...)
		if err != nil {
			res.Outcome, res.Reason = Failed, err.Error()
			emit(StateFailed, "publishing FAILED: "+err.Error())
			return res, nil
		}
		res.Digest, res.MediaType = r.Digest, string(r.MediaType)
		res.Outcome = Published
		if r.Unchanged {
			res.Outcome = Unchanged
		}
	}
	var leftOut []string
	for _, p := range st.Platforms {
		if p.Optional && p.Wait != Ready {
			leftOut = append(leftOut, platform.Format(p.Platform))
		}
	}
	without := ""
	if len(leftOut) > 0 {
		without = " without " + strings.Join(leftOut, ", ") + " (optional, not ready)"
	}
	emit(StateDone, fmt.Sprintf("%s %s %s%s", res.Outcome, u.IndexRef(), short(res.Digest), without))

	if err := check(ctx, target, st, res, o.Remote); err != nil {
		res.Reason = err.Error()
		emitAt(StageCheck, StateFailed, "CHECK FAILED: "+res.Reason)
	}
	if o.Signing != nil && res.Reason == "" {
		// Signed after publishing, and only then: what is signed is what the registry holds.
		if sr, err := signPublished(ctx, o, target, res.Digest, st); err != nil {
			res.Reason = "signing: " + err.Error()
			emitAt(StageCheck, StateFailed, "SIGNING FAILED: "+err.Error())
		} else {
			res.Signed = sr
			emitAt(StageCheck, StateDone, fmt.Sprintf("signed %s and its %d platforms (%s)", short(res.Digest), len(sr.Children), o.Signing.Format))
		}
	}
	res.Cleaned = cleanPendingTags(ctx, u, st, res, o.Remote, emit)
	return res, nil
}

// CheckFailed reports a published index that does not give some platform
// its tested digest.
func (r *PublishResult) CheckFailed() bool { return r.Outcome.Done() && r.Reason != "" }

// reuseClients adds one puller and one pusher to opts (unless opts has them
// already), so that every request of a publish step reuses each
// repository's connection and token instead of pinging the registry again.
func reuseClients(opts []remote.Option) ([]remote.Option, error) {
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return nil, err
	}
	return append(append([]remote.Option{}, opts...), remote.Reuse(puller), remote.Reuse(pusher)), nil
}

// sources are the ready platforms' images, in plan order.
func (s *UnitState) sources() []index.Source {
	var out []index.Source
	for i, p := range s.Platforms {
		if p.Wait != Ready {
			continue
		}
		repo := s.Unit.Repository
		if !p.FromIndex {
			ref, err := lookupRef(s.Unit, s.Unit.Targets[i])
			if err == nil {
				repo = ref.Context().String()
			}
		}
		ref, err := name.NewDigest(repo + "@" + p.Digest)
		if err != nil {
			continue
		}
		plat := p.Platform
		out = append(out, index.Source{Ref: ref, Platform: &plat})
	}
	return out
}

// elected is the ready platform whose test record is the newest (ties:
// the first platform name); its runner is the one to publish.
func (s *UnitState) elected() *PlatformState {
	var ready []*PlatformState
	for _, p := range s.Platforms {
		if p.Wait == Ready && p.Record != nil {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return nil
	}
	sort.SliceStable(ready, func(i, j int) bool {
		if !ready[i].Record.Time.Equal(ready[j].Record.Time) {
			return ready[i].Record.Time.After(ready[j].Record.Time)
		}
		return platform.Format(ready[i].Platform) < platform.Format(ready[j].Platform)
	})
	return ready[0]
}

func settle(o PublishOptions) time.Duration {
	if o.Settle > 0 {
		return o.Settle
	}
	return DefaultSettle
}

// awaitIndex waits until the index req gives is at target and at every tag
// (true), or Settle passed (false): then the caller publishes itself.
func awaitIndex(ctx context.Context, target name.Reference, req index.Request, o PublishOptions, waiting func()) (bool, string, error) {
	req.DryRun = true
	want, err := index.Publish(ctx, req, o.Remote...)
	if err != nil {
		return false, "", err
	}
	if want.Unchanged {
		return true, want.Digest, nil
	}
	waiting()
	tags := []name.Reference{target}
	for _, t := range want.Tags {
		if tag, err := name.NewTag(t, name.WeakValidation); err == nil {
			tags = append(tags, tag)
		}
	}
	opts := withContext(ctx, o.Remote)
	deadline := time.Now().Add(settle(o))
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return false, "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		all := true
		for _, t := range tags {
			if d, err := remote.Head(t, opts...); err != nil || d.Digest.String() != want.Digest {
				all = false
				break
			}
		}
		if all {
			return true, want.Digest, nil
		}
	}
	return false, "", nil
}

// check resolves the published name for every ready platform and compares
// with the digest that was tested.
func check(ctx context.Context, target name.Reference, st *UnitState, res *PublishResult, opts []remote.Option) error {
	r, err := index.NewResolver(ctx, target, opts...)
	if err != nil {
		return fmt.Errorf("published, but could not be read back: %w", err)
	}
	var bad []string
	for _, p := range st.Platforms {
		if p.Wait != Ready {
			continue
		}
		got := r.Resolve(p.Platform)
		res.Resolved = append(res.Resolved, got)
		if !got.Found || got.Digest != p.Digest {
			bad = append(bad, fmt.Sprintf("a %s host pulling %s gets %s, not the tested %s", platform.Format(p.Platform), st.Unit.IndexRef(), got.Digest, p.Digest))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// PushPendingTags tags this run's digest-only children (--no-arch-tags)
// where the publish step of another runner, or the merge job, looks for
// them (PendingTag). A runner calls it as soon as its builds are pushed, so
// that runners finishing their tests together see each other's images;
// PublishUnit calls it again, which writes only tags still missing.
func PushPendingTags(ctx context.Context, u *Unit, local map[string]*Local, opts ...remote.Option) error {
	opts = withContext(ctx, opts)
	for _, t := range u.Targets {
		l := local[platform.Format(t.Platform)]
		if !t.Job.ByDigest || l == nil || l.Digest == "" {
			continue
		}
		tag, err := lookupRef(u, t)
		if err != nil {
			return err
		}
		if d, err := remote.Head(tag, opts...); err == nil && d.Digest.String() == l.Digest {
			continue
		}
		desc, err := remote.Get(tag.Context().Digest(l.Digest), opts...)
		if err != nil {
			return fmt.Errorf("reading %s@%s: %w", tag.Context(), l.Digest, err)
		}
		if err := remote.Tag(tag.(name.Tag), desc, opts...); err != nil {
			return fmt.Errorf("tagging %s: %w", tag, err)
		}
	}
	return nil
}

// PushJob is the build job of t as a release runs it: an image with an
// arch-named tag is pushed by digest into that tag's repository, and
// TagArchRef moves the tag after the build, so that a runner of an older
// commit never moves it back.
func PushJob(t *Target) build.Job {
	j := t.Job
	if j.ByDigest {
		return j
	}
	if tag, err := name.NewTag(j.Ref); err == nil {
		j.Ref, j.ByDigest = tag.Context().String(), true
	}
	return j
}

// TagArchRef points t's arch ref at digest, unless the image it names now
// was built from a newer commit than u's (then it says why, and moves
// nothing). Digest-only targets have no arch ref: it does nothing.
func TagArchRef(ctx context.Context, u *Unit, t *Target, digest string, opts ...remote.Option) (moved bool, why string, err error) {
	if t.Job.ByDigest {
		return false, "", nil
	}
	opts = withContext(ctx, opts)
	tag, err := name.NewTag(t.Job.Ref)
	if err != nil {
		return false, "", err
	}
	cur, err := remote.Get(tag, opts...)
	switch {
	case client.IsNotFound(err):
	case err != nil:
		return false, "", fmt.Errorf("reading %s: %w", tag, err)
	case cur.Digest.String() == digest:
		return false, "", nil
	default:
		var m struct{ Annotations map[string]string }
		if json.Unmarshal(cur.Manifest, &m) == nil {
			s := &PlatformState{}
			s.readAnnotations(m.Annotations)
			if s.Commit != "" && u.Git.Commit != "" && s.Commit != u.Git.Commit && newer(s.CommitTime, u.Git.Time) {
				return false, fmt.Sprintf("%s names an image of commit %s (%s), newer than this run's %s (%s): left as it was",
					tag, shortCommit(s.Commit), s.CommitTime, shortCommit(u.Git.Commit), u.Git.Time), nil
			}
		}
	}
	img, err := remote.Get(tag.Context().Digest(digest), opts...)
	if err != nil {
		return false, "", fmt.Errorf("reading %s@%s: %w", tag.Context(), digest, err)
	}
	if err := remote.Tag(tag, img, opts...); err != nil {
		return false, "", fmt.Errorf("tagging %s: %w", tag, err)
	}
	return true, "", nil
}

// cleanPendingTags deletes the temporary tags that name a child of the
// published index; a tag a newer runner moved since is left alone.
func cleanPendingTags(ctx context.Context, u *Unit, st *UnitState, res *PublishResult, ropts []remote.Option, emit func(state, text string)) []string {
	if !res.Outcome.Done() || res.Reason != "" {
		return nil
	}
	opts := withContext(ctx, ropts)
	var cleaned []string
	for i, t := range u.Targets {
		p := st.Platforms[i]
		if !t.Job.ByDigest || p.Wait != Ready {
			continue
		}
		tag, err := lookupRef(u, t)
		if err != nil {
			continue
		}
		d, err := remote.Head(tag, opts...)
		if err != nil || d.Digest.String() != p.Digest {
			continue
		}
		if err := remote.Delete(tag, opts...); err != nil && !client.IsNotFound(err) {
			emit(StateDone, fmt.Sprintf("could not delete the temporary tag %s (%v): delete it by hand", tag, err))
			continue
		}
		cleaned = append(cleaned, tag.String())
	}
	return cleaned
}

// Publish is the merge job: for every unit of plan (with all its
// platforms, whatever the plan's --platform), gather every platform's
// state from the registry and publish the units that are ready. Nothing is
// built or tested. The error, when some unit is not published, names every
// platform that is missing and why.
func Publish(ctx context.Context, plan *Plan, o PublishOptions) ([]*PublishResult, error) {
	var err error
	if o.Remote, err = reuseClients(o.Remote); err != nil {
		return nil, err
	}
	var out []*PublishResult
	var failed []string
	for _, pu := range plan.Units {
		u, err := FullUnit(plan.Config, pu)
		if err != nil {
			return nil, err
		}
		_, spec, err := specOf(plan.Config, u)
		if err != nil {
			return nil, err
		}
		r, err := PublishUnit(ctx, u, spec, nil, o)
		if err != nil {
			return out, fmt.Errorf("%s: %w", u.Name(), err)
		}
		out = append(out, r)
		if !(r.Outcome.Done() || r.Outcome == WouldPublish) || r.Reason != "" {
			failed = append(failed, fmt.Sprintf("%s %s: %s", u.Name(), r.Outcome, r.Reason))
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%w: %s", ErrNotPublished, strings.Join(failed, "; "))
	}
	return out, nil
}

// PreviewPublish says what the publish step of a run that builds the plan's
// platforms of u would do, given what the registry holds now: publish (once
// this run's platforms pass), wait for the other platforms (each named
// with why), or refuse an older commit. It writes nothing.
func PreviewPublish(ctx context.Context, cfg *config.Config, u *Unit, o PublishOptions) (*PublishResult, error) {
	full, err := FullUnit(cfg, u)
	if err != nil {
		return nil, err
	}
	_, spec, err := specOf(cfg, full)
	if err != nil {
		return nil, err
	}
	local := map[string]*Local{}
	for _, t := range u.Targets {
		local[platform.Format(t.Platform)] = &Local{Planned: true}
	}
	st, err := Gather(ctx, full, spec, GatherOptions{Remote: o.Remote, Local: local})
	if err != nil {
		return nil, err
	}
	res := &PublishResult{Unit: full.Name(), IndexRef: full.IndexRef(), State: st, Outcome: WouldPublish}
	var others []string
	for _, p := range st.Platforms {
		if !p.ThisRun && p.Wait != Ready && !p.Optional {
			others = append(others, platform.Format(p.Platform)+": "+p.Why())
		}
	}
	if old, why := st.Superseded(); old && !o.Force {
		res.Outcome, res.Reason = Superseded, why
	} else if len(others) > 0 {
		res.Outcome, res.Reason = Waiting, "would wait for "+strings.Join(others, "; ")
	}
	return res, nil
}

// ErrNotPublished is returned (wrapped) by Publish when some unit was not
// published: waiting, superseded or failed.
var ErrNotPublished = fmt.Errorf("not published")

// Report is the run report of a publish step, rebuilt from the registry's
// records: each platform's image, its tests, the node that ran them, native
// or emulated, the durations, and the CI run and job that recorded them.
func PublishReport(started time.Time, results []*PublishResult) *Report {
	rep := &Report{Started: started, Duration: time.Since(started), OK: true}
	for _, r := range results {
		ur := r.UnitReport()
		rep.Units = append(rep.Units, ur)
		if !ur.Status.Published() || ur.Reason != "" {
			rep.OK = false
		}
	}
	return rep
}

// UnitReport is the result as a unit of a run report, with every platform
// of the unit as the registry holds it.
func (r *PublishResult) UnitReport() *UnitReport {
	ur := &UnitReport{Name: r.Unit, IndexRef: r.IndexRef, Status: r.Outcome.Status(), Digest: r.Digest, MediaType: r.MediaType, Reason: r.Reason}
	if st := r.State; st != nil && st.Unit != nil {
		ur.Image, ur.Version, ur.Tags = st.Unit.Image.Name, st.Unit.Version, st.Unit.Tags
	}
	for _, res := range r.Resolved {
		ur.Resolved = append(ur.Resolved, report.Resolution(res))
	}
	ur.Signed = r.signedReport()
	if r.State == nil {
		return ur
	}
	for _, p := range r.State.Platforms {
		tr := &TargetReport{Platform: platform.Format(p.Platform), Optional: p.Optional, Ref: p.Ref, Digest: p.Digest}
		switch p.Wait {
		case Ready:
			tr.Status = StatusPassed
		case TestsFailed:
			tr.Status = StatusTestsFailed
		case BuildFailed:
			tr.Status = StatusBuildFailed
		default:
			tr.Status = StatusNotRun
		}
		if p.Wait != Ready {
			tr.Error = p.Why()
			tr.LeftOut = p.Optional && r.Outcome.Done()
		}
		if rec := p.Record; rec != nil {
			tr.Node, tr.Native, tr.BuildTime, tr.TestTime, tr.Tests, tr.CI = rec.Node, rec.Native, rec.BuildDuration, rec.TestDuration, rec.Results, rec.CI
			tr.TestsReused = !p.ThisRun
		}
		ur.Targets = append(ur.Targets, tr)
	}
	return ur
}

// releasePublish is Release's publish step for unit u, of which this run
// built the targets in ur (local): it fills in ur and reports whether the
// unit is fine (published, unchanged, or waiting for or superseded by other
// runners, which did their part) rather than failed.
func releasePublish(ctx context.Context, cfg *config.Config, u *Unit, ur *UnitReport, local map[string]*Local, o ReleaseOptions, emit func(Event)) bool {
	for _, tr := range ur.Targets {
		tr.LeftOut = tr.Optional && !tr.Status.Passed()
	}
	fail := func(err error) bool {
		ur.Status, ur.Reason = StatusNotPublished, err.Error()
		emit(Event{Unit: ur.Name, Stage: StagePublish, State: StateFailed, Status: ur.Status, Text: fmt.Sprintf("[%s] publishing FAILED: %v", ur.Name, err)})
		return false
	}
	full, err := FullUnit(cfg, u)
	if err != nil {
		return fail(err)
	}
	_, spec, err := specOf(cfg, full)
	if err != nil {
		return fail(err)
	}
	res, err := PublishUnit(ctx, full, spec, local, PublishOptions{Remote: o.Remote, Force: o.Force, Settle: o.Settle, OnEvent: emit, Signing: o.Signing})
	if err != nil {
		return fail(err)
	}
	ur.Status, ur.Digest, ur.MediaType, ur.Reason = res.Outcome.Status(), res.Digest, res.MediaType, res.Reason
	for _, r := range res.Resolved {
		ur.Resolved = append(ur.Resolved, report.Resolution(r))
	}
	ur.Signed = res.signedReport()
	return res.Outcome != Failed && !res.CheckFailed()
}

// signedReport is what signing did, as a run report says it; nil when
// nothing was signed.
func (r *PublishResult) signedReport() *report.Signed {
	s := r.Signed
	if s == nil {
		return nil
	}
	out := &report.Signed{Format: s.Format.String(), Platforms: len(s.Children), Written: s.Written(), Duration: s.Duration}
	for _, c := range s.Children {
		out.Evidence = out.Evidence || c.SBOM != nil
	}
	return out
}

// recordTests writes the test record of one target this run tested, passed
// or failed, and returns it (also when the write failed: this run knows).
func recordTests(ctx context.Context, u *Unit, t *Target, tr *TargetReport, spec *imagetest.Spec, results []imagetest.Result, passed bool, signing *Signing, opts []remote.Option) (*TestRecord, error) {
	rec := &TestRecord{
		Polyarch: PolyarchVersion(), Digest: tr.Digest, Platform: tr.Platform, SpecDigest: SpecDigest(spec), Passed: passed,
		Node: tr.Node, Native: tr.Native, BuildDuration: tr.BuildTime, TestDuration: tr.TestTime,
		Commit: u.Git.Commit, Version: u.Version, CI: CIFromEnv(), Time: time.Now().UTC(), Results: results,
	}
	ref, err := digestRef(t.Job, tr.Digest)
	if err != nil {
		return rec, err
	}
	return rec, WriteSignedTestRecord(ctx, ref.Context(), rec, signing, opts...)
}

// pushed is what Release does once a target's image is pushed by digest:
// move its arch ref to it (TagArchRef), or leave a digest-only child where
// other runners find it (PushPendingTags). why says why the arch ref was
// left as it was.
func pushed(ctx context.Context, u *Unit, t *Target, digest string, opts []remote.Option) (why string, err error) {
	if t.Job.ByDigest {
		return "", PushPendingTags(ctx, u, map[string]*Local{platform.Format(t.Platform): {Digest: digest}}, opts...)
	}
	_, why, err = TagArchRef(ctx, u, t, digest, opts...)
	return why, err
}
