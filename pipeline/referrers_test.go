package pipeline_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/pipeline"
)

func TestReferrersModeOfEachRegistry(t *testing.T) {
	withAPI := testutil.NewRegistry(t).Host
	plain := testutil.NewPlainRegistry(t)
	ctx := context.Background()
	for _, tc := range []struct {
		host string
		want pipeline.ReferrersMode
		line string
	}{
		{withAPI, pipeline.ReferrersAPI, "registry " + withAPI + " answers the OCI referrers API: test records are found as referrers of each image"},
		{plain, pipeline.ReferrersTagSchema, "registry " + plain + " has no OCI referrers API: test records are kept under the referrers tag schema (sha256-<digest> tags)"},
	} {
		repo, _ := name.NewRepository(tc.host + "/org/app")
		m, err := pipeline.ProbeReferrers(ctx, repo)
		if err != nil || m != tc.want {
			t.Errorf("%s: mode %v, %v; want %v", tc.host, m, err, tc.want)
		}
		if got := m.Line(tc.host); got != tc.line {
			t.Errorf("%s: says %q, want %q", tc.host, got, tc.line)
		}
	}
}
