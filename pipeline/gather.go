package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/platform"
)

// A release may be split across machines: one CI job per architecture, each
// building and testing only its platforms, then a merge job. They share
// nothing but the registry and the checkout, so the publish step decides
// from the registry alone: for every required platform of an image version
// it reads the image its ref names now (the arch-named ref, or with
// --no-arch-tags a temporary tag, see PendingTag), the commit and version
// that image says it was built from (its OCI annotations), and the newest
// test record of that digest for the current test spec. Gather collects
// that state; the publish step publishes only when every required platform
// is ready, and otherwise says, per platform, what it waits for.

// Wait says whether a platform is ready to be published, and if not, why.
type Wait int

const (
	// Ready: present, built from this run's commit and version, and passed
	// the current test spec.
	Ready Wait = iota
	// NotPushed: nothing at the platform's ref yet (its runner has not pushed).
	NotPushed
	// OtherCommit: the image at the ref was built from another commit or
	// version than this run's.
	OtherCommit
	// NotTested: no test record of that digest for the current test spec.
	NotTested
	// TestsFailed: the newest test record of that digest and spec failed.
	TestsFailed
	// BuildFailed: this run built the platform, and the build failed.
	BuildFailed
	// Building: this run is to build it (a dry run).
	Building
)

var waitNames = [...]string{Ready: "ready", NotPushed: "not pushed yet", OtherCommit: "built from another commit",
	NotTested: "not tested", TestsFailed: "tests failed", BuildFailed: "build failed", Building: "built by this run"}

// String is the user's words for the state: "not pushed yet", "tests failed".
func (w Wait) String() string {
	if w < 0 || int(w) >= len(waitNames) {
		return fmt.Sprintf("Wait(%d)", int(w))
	}
	return waitNames[w]
}

// MarshalText writes the state as its String.
func (w Wait) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// PlatformState is what the registry (or this run) says about one platform
// of an image version.
type PlatformState struct {
	Platform v1.Platform `json:"-"`
	Optional bool        `json:"optional,omitempty"`
	// Ref is where the platform's image is looked up.
	Ref string `json:"ref"`
	// Digest is the image found there; FromIndex says it was found in the
	// published index instead (its temporary tag was cleaned up).
	Digest    string `json:"digest,omitempty"`
	FromIndex bool   `json:"fromIndex,omitempty"`
	// Commit, Version and CommitTime are what the image's annotations say.
	Commit     string `json:"commit,omitempty"`
	Version    string `json:"version,omitempty"`
	CommitTime string `json:"commitTime,omitempty"`
	// Newer is set with OtherCommit when the image's commit is newer than this run's.
	Newer bool `json:"newer,omitempty"`
	// Record is the test record that decided; nil when there is none.
	Record *TestRecord `json:"record,omitempty"`
	// ThisRun is set when this run built (or is to build) the platform.
	ThisRun bool `json:"thisRun,omitempty"`
	Wait    Wait `json:"state"`
	// Detail completes Wait: the failing tests, the other commit, the build error.
	Detail string `json:"detail,omitempty"`
}

// Why says in a sentence what the platform waits for.
func (s *PlatformState) Why() string {
	w := s.Wait.String()
	if s.Detail != "" {
		w += ": " + s.Detail
	}
	return w
}

// PublishedIndex is what the index's main tag names now.
type PublishedIndex struct {
	Digest     string `json:"digest"`
	Commit     string `json:"commit,omitempty"`
	Version    string `json:"version,omitempty"`
	CommitTime string `json:"commitTime,omitempty"`
	children   []v1.Descriptor
}

// UnitState is the state of every platform of one image version.
type UnitState struct {
	Unit *Unit `json:"-"`
	// Commit and CommitTime are this run's (the checkout's).
	Commit     string           `json:"commit,omitempty"`
	CommitTime string           `json:"commitTime,omitempty"`
	Platforms  []*PlatformState `json:"platforms"`
	// Published is the index its main tag names now; nil when none.
	Published *PublishedIndex `json:"published,omitempty"`
}

// Ready reports whether every required platform is ready.
func (s *UnitState) Ready() bool {
	n := 0
	for _, p := range s.Platforms {
		if p.Wait == Ready {
			n++
		} else if !p.Optional {
			return false
		}
	}
	return n > 0
}

// Waiting lists the required platforms that are not ready.
func (s *UnitState) Waiting() []*PlatformState {
	var out []*PlatformState
	for _, p := range s.Platforms {
		if p.Wait != Ready && !p.Optional {
			out = append(out, p)
		}
	}
	return out
}

// Superseded reports whether this run's commit is older than the published
// index's or than some platform's image, so that publishing would go back.
func (s *UnitState) Superseded() (bool, string) {
	if s.Published != nil && s.Published.Commit != "" && s.Commit != "" && s.Published.Commit != s.Commit && newer(s.Published.CommitTime, s.CommitTime) {
		return true, fmt.Sprintf("%s is published from commit %s (%s), newer than this run's %s (%s)",
			s.Unit.IndexRef(), shortCommit(s.Published.Commit), s.Published.CommitTime, shortCommit(s.Commit), s.CommitTime)
	}
	for _, p := range s.Platforms {
		if p.Wait == OtherCommit && p.Newer && !p.Optional {
			return true, fmt.Sprintf("%s is built from commit %s (%s), newer than this run's %s (%s)",
				platform.Format(p.Platform), shortCommit(p.Commit), p.CommitTime, shortCommit(s.Commit), s.CommitTime)
		}
	}
	return false, ""
}

// Reason names every required platform that is not ready and why.
func (s *UnitState) Reason() string {
	var parts []string
	for _, p := range s.Waiting() {
		parts = append(parts, platform.Format(p.Platform)+": "+p.Why())
	}
	return strings.Join(parts, "; ")
}

// Local is what this run knows of a platform it built.
type Local struct {
	// Digest is the pushed image; empty when the build failed.
	Digest string
	// Record is the test record this run wrote or reused; nil when the
	// tests did not run.
	Record *TestRecord
	// Err says why the build failed or the tests could not run.
	Err string
	// Planned: a dry run, the platform is to be built by this run.
	Planned bool
}

// GatherOptions tune Gather.
type GatherOptions struct {
	// Remote reaches the registry.
	Remote []remote.Option
	// Local is what this run did, by platform (platform.Format); the
	// other platforms are read from the registry.
	Local map[string]*Local
	// Signing, when set, makes only test records signed by its RecordKeys count.
	Signing *Signing
}

// gatherers bounds how many platforms are read at once.
const gatherers = 8

// Gather reads the state of every platform of u (planned with every
// platform, not only this run's) against the test spec with digest spec.
func Gather(ctx context.Context, u *Unit, spec string, o GatherOptions) (*UnitState, error) {
	opts := withContext(ctx, o.Remote)
	st := &UnitState{Unit: u, Commit: u.Git.Commit, CommitTime: u.Git.Time}
	target, err := name.ParseReference(u.IndexRef())
	if err != nil {
		return nil, err
	}
	if st.Published, err = readPublished(target, opts); err != nil {
		return nil, err
	}
	st.Platforms = make([]*PlatformState, len(u.Targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(gatherers)
	for i, t := range u.Targets {
		g.Go(func() error {
			s, err := gatherPlatform(gctx, u, t, st, spec, o.Local[platform.Format(t.Platform)], o.Signing, o.Remote)
			st.Platforms[i] = s
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return st, nil
}

func gatherPlatform(ctx context.Context, u *Unit, t *Target, st *UnitState, spec string, local *Local, signing *Signing, ropts []remote.Option) (*PlatformState, error) {
	opts := withContext(ctx, ropts)
	ref, err := lookupRef(u, t)
	if err != nil {
		return nil, err
	}
	s := &PlatformState{Platform: t.Platform, Optional: t.Optional, Ref: ref.String()}
	if local != nil {
		s.ThisRun = true
		s.Commit, s.Version, s.CommitTime = u.Git.Commit, u.Version, u.Git.Time
		switch {
		case local.Planned:
			s.Wait = Building
		case local.Digest == "":
			s.Wait, s.Detail = BuildFailed, firstLine(local.Err)
		default:
			s.Digest, s.Record = local.Digest, local.Record
			s.Wait, s.Detail = verdict(local.Record)
			if local.Record == nil && local.Err != "" {
				// Other runners will see no record: not tested.
				s.Wait, s.Detail = TestsFailed, "tests could not run: "+firstLine(local.Err)
			}
		}
		return s, nil
	}

	desc, err := remote.Get(ref, opts...)
	switch {
	case client.IsNotFound(err):
		child, ok := st.Published.child(t.Platform)
		if !ok {
			s.Wait, s.Detail = NotPushed, "nothing at "+ref.String()
			return s, nil
		}
		s.Digest, s.FromIndex = child.Digest.String(), true
		s.readAnnotations(child.Annotations)
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	default:
		s.Digest = desc.Digest.String()
		var m struct{ Annotations map[string]string }
		if err := json.Unmarshal(desc.Manifest, &m); err != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		s.readAnnotations(m.Annotations)
	}

	if (u.Git.Commit != "" && s.Commit != u.Git.Commit) || (s.Version != "" && s.Version != u.Version) {
		s.Wait = OtherCommit
		s.Newer = s.Commit != u.Git.Commit && newer(s.CommitTime, u.Git.Time)
		s.Detail = otherCommit(s, u)
		return s, nil
	}

	// The record is beside the image where its runner pushed it (the arch
	// ref's repository); one found in the index may also have it there.
	repos := []name.Repository{ref.Context()}
	if s.FromIndex && ref.Context().String() != st.Unit.Repository {
		if r, err := name.NewRepository(st.Unit.Repository); err == nil {
			repos = append(repos, r)
		}
	}
	keys := signing.recordKeys()
	unsigned := 0
	for _, repo := range repos {
		rec, n, err := findTestRecord(ctx, repo.Digest(s.Digest), platform.Format(t.Platform), spec, keys, ropts)
		if err != nil {
			return nil, err
		}
		unsigned += n
		if rec != nil {
			s.Record = rec
			break
		}
	}
	s.Wait, s.Detail = verdict(s.Record)
	if s.Record == nil {
		s.Detail = "no test record of " + short(s.Digest) + " for the current test spec"
		if unsigned > 0 {
			s.Detail = fmt.Sprintf("no test record of %s signed by a key of sign: (%d unsigned or signed by another key)", short(s.Digest), unsigned)
		}
	}
	return s, nil
}

// verdict is what a record says.
func verdict(rec *TestRecord) (Wait, string) {
	switch {
	case rec == nil:
		return NotTested, ""
	case !rec.Passed:
		return TestsFailed, strings.Join(rec.Failures(), ", ")
	}
	return Ready, ""
}

func (s *PlatformState) readAnnotations(a map[string]string) {
	s.Commit = a["org.opencontainers.image.revision"]
	s.Version = a["org.opencontainers.image.version"]
	s.CommitTime = a["org.opencontainers.image.created"]
}

func otherCommit(s *PlatformState, u *Unit) string {
	var what []string
	if s.Commit != u.Git.Commit {
		age := "older"
		switch {
		case s.Newer:
			age = "newer"
		case !newer(u.Git.Time, s.CommitTime):
			age = "not older"
		}
		what = append(what, fmt.Sprintf("%s is built from commit %s (%s, %s), this run is commit %s (%s)",
			s.Ref, shortCommit(s.Commit), s.CommitTime, age, shortCommit(u.Git.Commit), u.Git.Time))
	}
	if s.Version != u.Version {
		what = append(what, fmt.Sprintf("%s is version %s, this run is %s", s.Ref, s.Version, u.Version))
	}
	return strings.Join(what, "; ")
}

// newer reports whether RFC 3339 time a is after b; false when either is unreadable.
func newer(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339, a)
	tb, err2 := time.Parse(time.RFC3339, b)
	return err1 == nil && err2 == nil && ta.After(tb)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	if c == "" {
		return "(none)"
	}
	return c
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// lookupRef is where the publish step finds a platform's image: its arch
// ref, or with --no-arch-tags its temporary tag in the index's repository.
func lookupRef(u *Unit, t *Target) (name.Reference, error) {
	if t.Job.ByDigest {
		return name.NewTag(u.Repository + ":" + PendingTag(u.Tags[0], t.Platform))
	}
	return name.ParseReference(t.Job.Ref)
}

// PendingTag is the temporary tag under which a runner leaves a digest-only
// child (--no-arch-tags) for the publish step to find:
// "polyarch-pending.<main tag>.<os>-<arch>[-<variant>]" in the index's
// repository, with the main tag hashed when the whole would pass 128
// characters. The publish step deletes it once the index names the child.
func PendingTag(mainTag string, p v1.Platform) string {
	plat := strings.ReplaceAll(platform.Format(p), "/", "-")
	tag := "polyarch-pending." + mainTag + "." + plat
	if len(tag) > 128 {
		sum := sha256.Sum256([]byte(mainTag))
		tag = "polyarch-pending." + hex.EncodeToString(sum[:8]) + "." + plat
	}
	return tag
}

func readPublished(target name.Reference, opts []remote.Option) (*PublishedIndex, error) {
	desc, err := remote.Get(target, opts...)
	if client.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", target, err)
	}
	p := &PublishedIndex{Digest: desc.Digest.String()}
	var m struct {
		Annotations map[string]string
		Manifests   []v1.Descriptor
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", target, err)
	}
	p.Commit = m.Annotations["org.opencontainers.image.revision"]
	p.Version = m.Annotations["org.opencontainers.image.version"]
	p.CommitTime = m.Annotations["org.opencontainers.image.created"]
	if desc.MediaType.IsIndex() {
		p.children = m.Manifests
	}
	return p, nil
}

// child is the index's image for p.
func (p *PublishedIndex) child(plat v1.Platform) (v1.Descriptor, bool) {
	if p == nil {
		return v1.Descriptor{}, false
	}
	for _, d := range p.children {
		if d.Platform != nil && d.MediaType.IsImage() && platform.Same(*d.Platform, plat) {
			return d, true
		}
	}
	return v1.Descriptor{}, false
}

// FullUnit plans u with every platform of its image, whatever platforms
// this run builds: the publish step needs them all.
func FullUnit(cfg *config.Config, u *Unit) (*Unit, error) {
	if len(u.Targets) == len(u.Image.TargetPlatforms()) {
		return u, nil
	}
	byDigest := len(u.Targets) > 0 && u.Targets[0].Job.ByDigest
	plan, err := NewPlan(cfg, []string{u.Name()}, Options{NoArchTags: byDigest})
	if err != nil {
		return nil, err
	}
	for _, f := range plan.Units {
		if f.Version == u.Version {
			f.Git = u.Git
			return f, nil
		}
	}
	return nil, fmt.Errorf("%s: no version %s of image %s", cfg.File, u.Version, u.Image.Name)
}

// specOf is the test spec of a unit and its digest.
func specOf(cfg *config.Config, u *Unit) (*imagetest.Spec, string, error) {
	spec := u.Test
	if spec == nil {
		var err error
		if spec, err = TestSpec(cfg, u.Image); err != nil {
			return nil, "", err
		}
	}
	return spec, SpecDigest(spec), nil
}
