package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/sign"
)

// Signing is what release and publish sign with: polyarch.yaml's sign:.
// The publish step signs every child and the index after publishing (and
// only then), with each child's SBOM and provenance; runners sign the test
// records they write; and a merge job trusts only records signed by
// RecordKeys.
type Signing struct {
	// Key signs images, attestations and test records.
	Key    *sign.Key
	Format sign.Format
	// Evidence attaches an SBOM and a provenance statement to every child.
	Evidence bool
	// RecordKeys are the keys a test record must be signed by to count:
	// Key's own and sign.recordKeys.
	RecordKeys []*sign.PublicKey
	// layers keeps what the SBOMs found in each layer across the images
	// and versions of a run, so that a shared base layer is read once.
	layers evidence.LayerCache
}

// SigningFromConfig loads cfg's sign: section, reading the key's password
// from its environment variable; nil without a sign: section. A keyless
// section is refused (config.ErrKeyless) before anything is done.
func SigningFromConfig(cfg *config.Config) (*Signing, error) {
	s := cfg.Sign
	if s == nil {
		return nil, nil
	}
	if err := cfg.SignRefusal(); err != nil {
		return nil, err
	}
	pw, ok := os.LookupEnv(s.PasswordVar())
	if !ok {
		return nil, fmt.Errorf("%s: $%s is not set: it holds the password of %s (set it empty for a key without one)", cfg.At("sign.key"), s.PasswordVar(), s.Key)
	}
	key, err := sign.LoadKey(cfg.KeyRef(s.Key), []byte(pw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.At("sign.key"), err)
	}
	out := &Signing{Key: key, Format: s.SignFormat(), Evidence: s.WithEvidence(), RecordKeys: []*sign.PublicKey{key.Public()}}
	for i, r := range s.RecordKeys {
		k, err := sign.LoadPublicKey(cfg.KeyRef(r))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.At(fmt.Sprintf("sign.recordKeys[%d]", i)), err)
		}
		out.RecordKeys = append(out.RecordKeys, k)
	}
	return out, nil
}

// sbomLayers is the cache the release's tests fill for the SBOMs signing
// makes afterwards; nil without signing or evidence.
func (s *Signing) sbomLayers() *evidence.LayerCache {
	if s == nil || !s.Evidence {
		return nil
	}
	return &s.layers
}

// recordKeys are the keys records must be signed by; none without signing.
func (s *Signing) recordKeys() []*sign.PublicKey {
	if s == nil {
		return nil
	}
	return s.RecordKeys
}

// signRecord is the signature annotation of a record's body.
func (s *Signing) signRecord(body []byte) (map[string]string, error) {
	if s == nil || s.Key == nil {
		return nil, nil
	}
	sig, err := s.Key.SignBlob(body)
	if err != nil {
		return nil, fmt.Errorf("signing the test record: %w", err)
	}
	return map[string]string{annotationRecordSignature: sig, annotationRecordKey: s.Key.Public().ID()}, nil
}

// signPublished signs the index the publish step published (or found
// unchanged) and its children, attaching their evidence, built from what
// the registry's records say of each platform.
func signPublished(ctx context.Context, o PublishOptions, target name.Reference, digest string, st *UnitState) (*evidence.Result, error) {
	ref, err := name.NewDigest(target.Context().String() + "@" + digest)
	if err != nil {
		return nil, err
	}
	byPlatform := map[string]*PlatformState{}
	for _, p := range st.Platforms {
		byPlatform[platform.Format(platform.Normalize(p.Platform))] = p
	}
	u := st.Unit
	return evidence.Sign(ctx, ref, evidence.Options{
		Signer:     sign.NewSigner(o.Signing.Key, sign.WithFormat(o.Signing.Format), sign.WithRemote(o.Remote...)),
		Remote:     o.Remote,
		NoEvidence: !o.Signing.Evidence,
		Polyarch:   PolyarchVersion(),
		Layers:     &o.Signing.layers,
		Build: func(p v1.Platform, d v1.Hash) *evidence.Build {
			ps := byPlatform[platform.Format(platform.Normalize(p))]
			b := &evidence.Build{Polyarch: PolyarchVersion(), Version: u.Version, Commit: u.Git.Commit, Source: u.Git.Remote}
			if u.Image != nil {
				b.Image = u.Image.Name
			}
			if ps == nil || ps.Record == nil {
				return b
			}
			r := ps.Record
			native := r.Native
			b.Node, b.Native = r.Node, &native
			t := &evidence.Test{Record: r.Ref, SpecDigest: r.SpecDigest, Passed: r.Passed, Node: r.Node, Execution: evidence.Execution(r.Native), Duration: r.TestDuration}
			for _, res := range r.Results {
				t.Results = append(t.Results, evidence.TestResult{Kind: res.Kind, Name: res.Name, Passed: !res.Failed()})
			}
			if r.CI != nil {
				t.CI = ciString(r.CI)
				b.CI = t.CI
			}
			b.Test = t
			if r.BuildDuration > 0 {
				b.Finished = r.Time
			}
			return b
		},
	})
}

// ciString names a CI run in provenance: its URL, else system, run and job.
func ciString(c *CIRun) string {
	if c.URL != "" {
		return c.URL
	}
	return strings.TrimSpace(c.System + " " + c.Run + " " + c.Job)
}
