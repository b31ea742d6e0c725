package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifestAccept is what a multi-platform-aware client sends.
var manifestAccept = strings.Join([]string{v1.MediaTypeImageIndex, v1.MediaTypeImageManifest}, ", ")

// getManifests times n GETs of repo's tagged manifest (the index) from
// workers concurrent keep-alive connections, after one untimed warm-up GET
// per worker to open them. Every response must be 200 with the index digest.
func getManifests(ctx context.Context, addr, repo, digest string, n, workers int) (time.Duration, error) {
	name, tag, _ := strings.Cut(repo, ":")
	url := fmt.Sprintf("http://%s/v2/%s/manifests/%s", addr, name, tag)
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	get := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", manifestAccept)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if got := resp.Header.Get("Docker-Content-Digest"); got != digest {
			return fmt.Errorf("GET %s: digest %q, want %s", url, got, digest)
		}
		return nil
	}
	// each runs f on every worker and returns the first error.
	each := func(f func() error) error {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- f() }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}

	if err := each(get); err != nil {
		return 0, err
	}
	var issued atomic.Int64
	start := time.Now()
	err := each(func() error {
		for issued.Add(1) <= int64(n) {
			if err := get(); err != nil {
				return err
			}
		}
		return nil
	})
	return time.Since(start), err
}
