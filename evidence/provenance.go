package evidence

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/in-toto/in-toto-golang/in_toto"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"

	"github.com/polyarch/polyarch/platform"
)

// ProvenancePredicateType is the predicate type of polyarch's provenance
// (SLSA provenance v1; cosign's --type slsaprovenance1).
const ProvenancePredicateType = slsa1.PredicateSLSAProvenance

// BuildType is the buildType of polyarch's provenance: what its
// externalParameters and internalParameters hold is documented there.
const BuildType = "https://github.com/polyarch/polyarch/blob/main/docs/evidence.md#provenance-v1"

// BuilderID identifies polyarch as the builder in its provenance.
const BuilderID = "https://github.com/polyarch/polyarch"

// Build is what polyarch knows of how one platform's image was made and
// tested. Zero fields are unknown (an image signed with `polyarch sign`
// after the fact knows only what its annotations say).
type Build struct {
	// Polyarch is the version of polyarch that built, tested or signed it.
	Polyarch string
	// Image and Version are the image's name and version in polyarch.yaml.
	Image, Version string
	// Source is the git remote; Commit the commit it was built from.
	Source, Commit string
	// Dockerfile (relative to the context), Target and Args of the build.
	Dockerfile string
	Target     string
	Args       map[string]string
	// Node built it, natively or under QEMU emulation.
	Node   string
	Native *bool
	// Started and Finished bound the build.
	Started, Finished time.Time
	// Test is the test run the publish step trusted.
	Test *Test
	// CI is the CI run and job, as a URL or an id.
	CI string
}

// Test is one platform's test run, as its test record says.
type Test struct {
	// Record is the test record's reference; SpecDigest the test spec's.
	Record     string `json:"record,omitempty"`
	SpecDigest string `json:"specDigest,omitempty"`
	Passed     bool   `json:"passed"`
	// Node ran the tests, natively or under emulation.
	Node      string        `json:"node,omitempty"`
	Execution string        `json:"execution,omitempty"`
	Duration  time.Duration `json:"durationNanoseconds,omitempty"`
	Results   []TestResult  `json:"results,omitempty"`
	// CI is the CI run and job that tested it.
	CI string `json:"ci,omitempty"`
}

// TestResult is one test of a run.
type TestResult struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
}

// externalParameters are what polyarch.yaml and the command line asked for.
type externalParameters struct {
	Image      string            `json:"image,omitempty"`
	Version    string            `json:"version,omitempty"`
	Platform   string            `json:"platform"`
	Source     string            `json:"source,omitempty"`
	Commit     string            `json:"commit,omitempty"`
	Dockerfile string            `json:"dockerfile,omitempty"`
	Target     string            `json:"target,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
}

// internalParameters are what polyarch chose and saw: the node, native or
// emulated, and the tests.
type internalParameters struct {
	Node      string `json:"node,omitempty"`
	Execution string `json:"execution,omitempty"`
	Test      *Test  `json:"test,omitempty"`
}

func execution(native *bool) string {
	switch {
	case native == nil:
		return ""
	case *native:
		return "native"
	}
	return "emulated"
}

// Execution says "native" or "emulated" for a known node.
func Execution(native bool) string { return execution(&native) }

// Provenance is polyarch's SLSA v1 provenance statement of one child: what
// it was built from, on which node (natively or emulated), and how it was
// tested. buildkit lists BuildKit's own provenance statements of the same
// image, recorded as byproducts.
func Provenance(s Subject, b Build, buildkit []v1.Descriptor) *in_toto.Statement {
	pred := slsa1.ProvenancePredicate{
		BuildDefinition: slsa1.ProvenanceBuildDefinition{
			BuildType: BuildType,
			ExternalParameters: externalParameters{
				Image: b.Image, Version: b.Version, Platform: platform.Format(s.Platform),
				Source: b.Source, Commit: b.Commit, Dockerfile: b.Dockerfile, Target: b.Target, Args: b.Args,
			},
			InternalParameters: internalParameters{Node: b.Node, Execution: execution(b.Native), Test: b.Test},
		},
		RunDetails: slsa1.ProvenanceRunDetails{
			Builder: slsa1.Builder{ID: BuilderID, Version: map[string]string{"polyarch": b.Polyarch}},
			BuildMetadata: slsa1.BuildMetadata{
				InvocationID: b.CI,
			},
		},
	}
	if b.Commit != "" {
		uri := b.Source
		if uri != "" {
			uri = "git+" + uri + "@" + b.Commit
		}
		pred.BuildDefinition.ResolvedDependencies = []slsa1.ResourceDescriptor{{URI: uri, Digest: map[string]string{"gitCommit": b.Commit}}}
	}
	if !b.Started.IsZero() {
		t := b.Started.UTC()
		pred.RunDetails.BuildMetadata.StartedOn = &t
	}
	if !b.Finished.IsZero() {
		t := b.Finished.UTC()
		pred.RunDetails.BuildMetadata.FinishedOn = &t
	}
	for _, d := range buildkit {
		pred.RunDetails.Byproducts = append(pred.RunDetails.Byproducts, slsa1.ResourceDescriptor{
			Name: "buildkit-provenance", MediaType: string(d.MediaType),
			Digest: map[string]string{d.Digest.Algorithm: d.Digest.Hex},
		})
	}
	return &in_toto.Statement{
		StatementHeader: in_toto.StatementHeader{
			Type:          in_toto.StatementInTotoV1,
			PredicateType: ProvenancePredicateType,
			Subject:       []in_toto.Subject{{Name: s.Repository.Digest(s.Digest.String()).String(), Digest: map[string]string{s.Digest.Algorithm: s.Digest.Hex}}},
		},
		Predicate: pred,
	}
}

// ProvenanceSummary is what verify checks of a provenance predicate.
type ProvenanceSummary struct {
	Platform  string
	Commit    string
	Node      string
	Execution string
	// Tested is nil when the provenance records no test run.
	Tested *bool
}

// ReadProvenance summarises a provenance predicate written by Provenance.
func ReadProvenance(predicate []byte) (*ProvenanceSummary, error) {
	var p struct {
		BuildDefinition struct {
			BuildType          string             `json:"buildType"`
			ExternalParameters externalParameters `json:"externalParameters"`
			InternalParameters internalParameters `json:"internalParameters"`
		} `json:"buildDefinition"`
	}
	if err := json.Unmarshal(predicate, &p); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	if p.BuildDefinition.BuildType != BuildType {
		return nil, fmt.Errorf("provenance of build type %q, not polyarch's", p.BuildDefinition.BuildType)
	}
	s := &ProvenanceSummary{
		Platform:  p.BuildDefinition.ExternalParameters.Platform,
		Commit:    p.BuildDefinition.ExternalParameters.Commit,
		Node:      p.BuildDefinition.InternalParameters.Node,
		Execution: p.BuildDefinition.InternalParameters.Execution,
	}
	if t := p.BuildDefinition.InternalParameters.Test; t != nil {
		s.Tested = &t.Passed
	}
	return s, nil
}

// buildkitStatement is one in-toto statement BuildKit attached to an image
// (an attestation manifest's layer).
type buildkitStatement struct {
	desc      v1.Descriptor
	statement *in_toto.Statement
}

// BuildKit's attestation manifests (as BuildKit writes them into an index).
const (
	annotationReferenceType   = "vnd.docker.reference.type"
	annotationReferenceDigest = "vnd.docker.reference.digest"
	attestationManifest       = "attestation-manifest"
	annotationPredicateType   = "in-toto.io/predicate-type"
	buildkitProvenanceV02     = "https://slsa.dev/provenance/v0.2"
)

// isProvenance reports whether a BuildKit statement's predicate type is SLSA provenance.
func isProvenance(pt string) bool {
	return pt == buildkitProvenanceV02 || pt == slsa1.PredicateSLSAProvenance
}

// buildkitProvenance reads the SLSA provenance statements BuildKit attached
// to the child with digest child in idx (its attestation manifest).
func buildkitProvenance(idx v1.ImageIndex, child v1.Hash) ([]buildkitStatement, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []buildkitStatement
	for _, d := range im.Manifests {
		if d.Annotations[annotationReferenceType] != attestationManifest || d.Annotations[annotationReferenceDigest] != child.String() {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading attestation manifest %s: %w", d.Digest, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading attestation manifest %s: %w", d.Digest, err)
		}
		for _, l := range m.Layers {
			if !isProvenance(l.Annotations[annotationPredicateType]) {
				continue
			}
			layer, err := img.LayerByDigest(l.Digest)
			if err != nil {
				return nil, err
			}
			rc, err := layer.Compressed()
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(io.LimitReader(rc, maxDatabase))
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("reading BuildKit provenance %s: %w", l.Digest, err)
			}
			st := &in_toto.Statement{}
			if err := json.Unmarshal(b, st); err != nil {
				return nil, fmt.Errorf("BuildKit provenance %s: %w", l.Digest, err)
			}
			out = append(out, buildkitStatement{desc: l, statement: st})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].statement.PredicateType < out[j].statement.PredicateType })
	return out, nil
}
