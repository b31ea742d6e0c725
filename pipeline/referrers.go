package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Test records are referrers of the tested image. A registry with the OCI
// 1.1 referrers API lists them; one without it (plain distribution, several
// hosted registries) gets them under the referrers tag schema instead: an
// index tagged sha256-<digest> beside the image, which go-containerregistry
// updates when it pushes a manifest with a subject and reads when the API
// is missing. Either way a rerun and `polyarch publish` find them again;
// the user is told which mode each registry is in (ReferrersModes).

// ReferrersMode is how a registry keeps referrers.
type ReferrersMode int

const (
	// ReferrersUnknown: the registry could not be asked.
	ReferrersUnknown ReferrersMode = iota
	// ReferrersAPI: GET /v2/<name>/referrers/<digest> answers.
	ReferrersAPI
	// ReferrersTagSchema: no referrers API; the sha256-<digest> tags hold them.
	ReferrersTagSchema
)

func (m ReferrersMode) String() string {
	switch m {
	case ReferrersAPI:
		return "referrers API"
	case ReferrersTagSchema:
		return "referrers tag schema"
	}
	return "unknown"
}

// Line is what the user is told of registry host in mode m.
func (m ReferrersMode) Line(host string) string {
	switch m {
	case ReferrersAPI:
		return fmt.Sprintf("registry %s answers the OCI referrers API: test records are found as referrers of each image", host)
	case ReferrersTagSchema:
		return fmt.Sprintf("registry %s has no OCI referrers API: test records are kept under the referrers tag schema (sha256-<digest> tags)", host)
	}
	return fmt.Sprintf("registry %s: whether it has the OCI referrers API is unknown", host)
}

// ProbeReferrers asks repo's registry for the referrers of a digest no
// manifest has, the tag schema fallback turned off.
func ProbeReferrers(ctx context.Context, repo name.Repository, opts ...remote.Option) (ReferrersMode, error) {
	probe := repo.Digest("sha256:" + strings.Repeat("0", 64))
	_, err := remote.Referrers(probe, append(withContext(ctx, opts), remote.WithReferrersTagFallback(false))...)
	switch {
	case err == nil:
		return ReferrersAPI, nil
	case strings.Contains(err.Error(), "does not support the Referrers API"):
		// go-containerregistry's words (pkg/v1/remote/referrers.go); it has no typed error.
		return ReferrersTagSchema, nil
	}
	return ReferrersUnknown, fmt.Errorf("asking %s for referrers: %w", repo.RegistryStr(), err)
}

// ReferrersModes probes, once per registry, the registries the plan's test
// records go to (those of its arch refs), in plan order.
func ReferrersModes(ctx context.Context, plan *Plan, opts ...remote.Option) []RegistryReferrers {
	var out []RegistryReferrers
	seen := map[string]bool{}
	for _, u := range plan.Units {
		for _, t := range u.Targets {
			ref := t.Job.Ref
			if t.Job.ByDigest {
				ref += ":latest"
			}
			r, err := name.ParseReference(ref)
			if err != nil || seen[r.Context().RegistryStr()] {
				continue
			}
			seen[r.Context().RegistryStr()] = true
			m, err := ProbeReferrers(ctx, r.Context(), opts...)
			out = append(out, RegistryReferrers{Host: r.Context().RegistryStr(), Mode: m, Err: err})
		}
	}
	return out
}

// RegistryReferrers is one registry's referrers mode.
type RegistryReferrers struct {
	Host string
	Mode ReferrersMode
	Err  error
}
