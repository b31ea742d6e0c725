package index_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
)

// progressLog records the Updates of one operation.
type progressLog struct {
	mu      sync.Mutex
	updates []index.Update
	late    int // updates after Done
}

func (p *progressLog) fn(u index.Update) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, prev := range p.updates {
		if prev.Done {
			p.late++
		}
	}
	p.updates = append(p.updates, u)
}

// check fails unless exactly one Done ended the updates; it returns the last.
func (p *progressLog) check(t *testing.T, what string) index.Update {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for _, u := range p.updates {
		if u.Done {
			done++
		}
		if u.Complete < 0 || u.Complete > u.Total {
			t.Errorf("%s: update %+v out of range", what, u)
		}
	}
	if done != 1 || p.late > 0 || len(p.updates) == 0 || !p.updates[len(p.updates)-1].Done {
		t.Fatalf("%s: %d Done updates, %d after it, of %d; want exactly one, last", what, done, p.late, len(p.updates))
	}
	return p.updates[len(p.updates)-1]
}

// Progress is told Done once on every path, whether bytes moved or not.
func TestProgressIsDoneOnEveryPath(t *testing.T) {
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	pushArch(t, src.Host+"/org/app-ARCH:1", types.OCIManifestSchema1, "linux/amd64", "linux/arm64")
	ref := func(s string) index.Source { return index.Source{Ref: testutil.Ref(t, s)} }

	copyTo := func(from, to string) (*index.CopyResult, index.Update, error) {
		var p progressLog
		res, err := index.Copy(ctx, testutil.Ref(t, from), testutil.Ref(t, to), index.CopyOptions{Progress: p.fn})
		return res, p.check(t, "copy "+from), err
	}
	res, last, err := copyTo(src.Host+"/org/app-amd64:1", dst.Host+"/org/app-amd64:1")
	if err != nil || res.Unchanged {
		t.Fatalf("copy: %v %+v", err, res)
	}
	if last.Total == 0 || last.Complete != last.Total {
		t.Errorf("a copy across registries counted %d of %d bytes", last.Complete, last.Total)
	}
	if res, last, err = copyTo(src.Host+"/org/app-amd64:1", dst.Host+"/org/app-amd64:1"); err != nil || !res.Unchanged || last.Total != 0 {
		t.Errorf("unchanged copy: %v %+v, last update %+v", err, res, last)
	}
	if _, _, err = copyTo(src.Host+"/org/none:1", dst.Host+"/org/none:1"); err == nil {
		t.Error("copy of a missing source succeeded")
	}

	publish := func(req index.Request) (*index.Result, index.Update, error) {
		var p progressLog
		req.Progress = p.fn
		res, err := index.Publish(ctx, req)
		return res, p.check(t, "publish "+req.Target.String()), err
	}
	sources := []index.Source{ref(src.Host + "/org/app-amd64:1"), ref(src.Host + "/org/app-arm64:1")}
	target := testutil.Ref(t, dst.Host+"/org/app:1")
	if _, _, err := publish(index.Request{Target: target, Sources: sources, DryRun: true}); err != nil {
		t.Errorf("dry run: %v", err)
	}
	pub, last, err := publish(index.Request{Target: target, Sources: sources})
	if err != nil || last.Total == 0 || last.Complete != last.Total {
		t.Errorf("publish across registries: %v, counted %d of %d bytes", err, last.Complete, last.Total)
	}
	if res, last, err := publish(index.Request{Target: target, Sources: sources, Tags: []string{"latest"}}); err != nil || res.Digest != pub.Digest || last.Total != 0 {
		t.Errorf("tag-only publish: %v, %+v, last update %+v", err, res, last)
	}
	if res, _, err := publish(index.Request{Target: target, Sources: sources, Tags: []string{"latest"}}); err != nil || !res.Unchanged {
		t.Errorf("republish: %v %+v", err, res)
	}
	if _, _, err := publish(index.Request{Target: target, Sources: []index.Source{ref(src.Host + "/org/none:1")}}); err == nil {
		t.Error("publish of a missing source succeeded")
	}
	if _, _, err := publish(index.Request{Target: target}); err == nil {
		t.Error("publish of nothing succeeded")
	}
}

// Request.Jobs and InspectOptions.Jobs bound how many manifests are read at
// once.
func TestJobsBoundConcurrentReads(t *testing.T) {
	reg := testutil.NewRegistry(t)
	plats := []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x", "linux/riscv64"}
	pushArch(t, reg.Host+"/org/app-ARCH:1", types.OCIManifestSchema1, plats...)
	if _, err := index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/app:1"), Sources: sources(t, reg.Host+"/org/app-ARCH:1", strings.Join(plats, ","))}); err != nil {
		t.Fatal(err)
	}
	// The registry, behind a proxy that holds each manifest GET a while
	// and notes how many were in flight at most.
	var inFlight, most atomic.Int32
	u, _ := url.Parse(reg.Server.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(30 * time.Millisecond)
		}
		rp.ServeHTTP(w, r)
	}))
	defer slow.Close()
	host := strings.TrimPrefix(slow.URL, "http://")

	for _, jobs := range []int{1, 2} {
		most.Store(0)
		if _, err := index.Publish(ctx, index.Request{Target: testutil.Ref(t, host+"/org/other:1"), Sources: sources(t, host+"/org/app-ARCH:1", strings.Join(plats, ",")), Jobs: jobs, DryRun: true}); err != nil {
			t.Fatal(err)
		}
		if got := most.Load(); got > int32(jobs) || got < 1 {
			t.Errorf("Publish with Jobs %d read %d manifests at once", jobs, got)
		}
		most.Store(0)
		if _, err := index.InspectWith(ctx, testutil.Ref(t, host+"/org/app:1"), index.InspectOptions{Jobs: jobs}); err != nil {
			t.Fatal(err)
		}
		if got := most.Load(); got > int32(jobs) || got < 1 {
			t.Errorf("Inspect with Jobs %d read %d manifests at once", jobs, got)
		}
	}
	// The limit is not a ceiling only: with room, reads overlap.
	most.Store(0)
	if _, err := index.InspectWith(ctx, testutil.Ref(t, host+"/org/app:1"), index.InspectOptions{Jobs: 6}, remote.WithJobs(6)); err != nil {
		t.Fatal(err)
	}
	if got := most.Load(); got < 2 {
		t.Errorf("Inspect with Jobs 6 read %d manifest at once", got)
	}
}
