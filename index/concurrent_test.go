package index_test

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
)

// jittery puts a registry behind a proxy that holds each manifest PUT for a
// random few milliseconds, as a registry under load does, so that two
// publishers' writes interleave. It returns host:port.
func jittery(t *testing.T, reg *testutil.Registry, seed uint64) string {
	t.Helper()
	u, _ := url.Parse(reg.Server.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(seed, seed))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			mu.Lock()
			d := time.Duration(rnd.IntN(15)) * time.Millisecond
			mu.Unlock()
			time.Sleep(d)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// tagDigests returns what each tag of repo names, read from the registry.
func tagDigests(t *testing.T, repo string, tags ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tag := range tags {
		d, err := remote.Head(testutil.Ref(t, repo+":"+tag))
		if err != nil {
			t.Fatalf("%s:%s: %v", repo, tag, err)
		}
		out[tag] = d.Digest.String()
	}
	return out
}

func agree(m map[string]string) bool {
	first := ""
	for _, d := range m {
		if first == "" {
			first = d
		}
		if d != first {
			return false
		}
	}
	return true
}

// Two publishers of different indexes to the same tags at once: whenever
// both succeed the tags agree, and when the tags disagree at least one of
// them said so with an *InterleaveError naming every tag and its digest.
func TestConcurrentPublishersNeverLeaveTagsDisagreeingSilently(t *testing.T) {
	// Own registry; its time is the proxy's jitter, overlapped with the
	// fault test's.
	t.Parallel()
	reg := testutil.NewRegistry(t)
	host := jittery(t, reg, 12)
	pushArch(t, reg.Host+"/org/a-ARCH:1", types.OCIManifestSchema1, "linux/amd64", "linux/arm64")
	pushArch(t, reg.Host+"/org/b-ARCH:1", types.OCIManifestSchema1, "linux/amd64", "linux/arm64")
	tags := []string{"v1", "latest", "stable"}

	interleaved, disagreed := 0, 0
	for trial := range 20 {
		repo := host + "/org/app" + string(rune('a'+trial))
		reqs := []index.Request{
			{Target: testutil.Ref(t, repo+":v1"), Tags: tags[1:], Sources: sources(t, host+"/org/a-ARCH:1", "linux/amd64,linux/arm64")},
			{Target: testutil.Ref(t, repo+":v1"), Tags: tags[1:], Sources: sources(t, host+"/org/b-ARCH:1", "linux/amd64,linux/arm64")},
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range reqs {
			wg.Go(func() { _, errs[i] = index.Publish(ctx, reqs[i]) })
		}
		wg.Wait()
		now := tagDigests(t, repo, tags...)
		for _, err := range errs {
			var ie *index.InterleaveError
			if err == nil {
				continue
			}
			if !errors.As(err, &ie) {
				t.Fatalf("trial %d: %v", trial, err)
			}
			interleaved++
			if len(ie.Tags) != 3 || !strings.Contains(err.Error(), repo+":stable names ") {
				t.Errorf("trial %d: the error does not name every tag and its digest: %v", trial, err)
			}
		}
		if !agree(now) {
			disagreed++
			if errs[0] == nil && errs[1] == nil {
				t.Errorf("trial %d: both publishes succeeded and the tags disagree: %v", trial, now)
			}
		}
	}
	t.Logf("%d of 20 trials left the tags disagreeing; %d publishes returned the interleave error", disagreed, interleaved)
}

// Two publishers of the same index converge: both succeed, the tags agree,
// and publishing it again writes nothing.
func TestConcurrentPublishersOfOneIndexConverge(t *testing.T) {
	reg := testutil.NewRegistry(t)
	host := jittery(t, reg, 7)
	pushArch(t, reg.Host+"/org/a-ARCH:1", types.OCIManifestSchema1, "linux/amd64", "linux/arm64")
	req := index.Request{Target: testutil.Ref(t, host+"/org/app:v1"), Tags: []string{"latest", "stable"}, Sources: sources(t, host+"/org/a-ARCH:1", "linux/amd64,linux/arm64")}
	for trial := range 5 {
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = index.Publish(ctx, req) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("trial %d: %v; %v", trial, errs[0], errs[1])
		}
		if now := tagDigests(t, host+"/org/app", "v1", "latest", "stable"); !agree(now) {
			t.Fatalf("trial %d: tags disagree: %v", trial, now)
		}
	}
	res, err := index.Publish(ctx, req)
	if err != nil || !res.Unchanged {
		t.Errorf("publishing the converged index again: %v, unchanged %v", err, res != nil && res.Unchanged)
	}
}
