package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfterIsWaitedOut(t *testing.T) {
	var calls atomic.Int32
	var first time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if since := time.Since(first); since < 900*time.Millisecond {
			t.Errorf("retried after %s, before Retry-After: 1", since)
		}
		if b, _ := io.ReadAll(r.Body); string(b) != "body" {
			t.Errorf("resent body %q", b)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	rt := &retrying{next: http.DefaultTransport, retry: Retry{Backoff: time.Millisecond}.withDefaults()}
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		calls.Store(0)
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader("body"))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || calls.Load() != 2 {
			t.Fatalf("%s: status %d after %d calls, want 200 after 2", method, resp.StatusCode, calls.Load())
		}
	}
}

// Each transient failure is retried Attempts times in all, then returned.
func TestRetryIsBounded(t *testing.T) {
	var calls atomic.Int32
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	rt := &retrying{next: http.DefaultTransport, retry: Retry{Attempts: 4, Backoff: time.Millisecond}.withDefaults()}
	for _, status = range []int{408, 429, 500, 502, 503, 504} {
		calls.Store(0)
		resp, err := rt.RoundTrip(mustGet(t, srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status || calls.Load() != 4 {
			t.Errorf("%d: status %d after %d calls, want it after 4", status, resp.StatusCode, calls.Load())
		}
	}
	// Not transient: returned at once.
	for _, status = range []int{400, 401, 404, 416} {
		calls.Store(0)
		resp, _ := rt.RoundTrip(mustGet(t, srv.URL))
		resp.Body.Close()
		if calls.Load() != 1 {
			t.Errorf("%d was sent %d times", status, calls.Load())
		}
	}
}

// A wait that does not fit MaxWait is not waited: the answer is returned.
func TestRetryWaitsAtMostMaxWait(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	rt := &retrying{next: http.DefaultTransport, retry: Retry{MaxWait: time.Second}.withDefaults()}
	began := time.Now()
	resp, err := rt.RoundTrip(mustGet(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if calls.Load() != 1 || time.Since(began) > 500*time.Millisecond {
		t.Errorf("an hour's Retry-After with MaxWait 1s: %d calls in %s", calls.Load(), time.Since(began))
	}
}

// The data of a blob upload is sent again only when the upload's status
// says the registry took none of it; otherwise go-containerregistry
// restarts the blob from a new upload.
func TestRetryResendsBlobDataOnlyToAnUntouchedUpload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status func(w http.ResponseWriter) // the answer to GET on the upload
		sends  int32
		final  int
	}{
		{"untouched", func(w http.ResponseWriter) { w.Header().Set("Range", "0-0"); w.WriteHeader(http.StatusNoContent) }, 2, http.StatusAccepted},
		{"data taken", func(w http.ResponseWriter) { w.Header().Set("Range", "0-3"); w.WriteHeader(http.StatusNoContent) }, 1, http.StatusInternalServerError},
		{"state moved on", func(w http.ResponseWriter) { w.WriteHeader(http.StatusRequestedRangeNotSatisfiable) }, 1, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var patches atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					tc.status(w)
					return
				}
				b, _ := io.ReadAll(r.Body)
				if string(b) != "data" {
					t.Errorf("PATCH body %q", b)
				}
				if patches.Add(1) == 1 {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			rt := &retrying{next: http.DefaultTransport, retry: Retry{Backoff: time.Millisecond}.withDefaults()}
			req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/v2/r/blobs/uploads/u?_state=s", strings.NewReader("data"))
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if patches.Load() != tc.sends || resp.StatusCode != tc.final {
				t.Errorf("PATCH sent %d times, answered %d; want %d times, %d", patches.Load(), resp.StatusCode, tc.sends, tc.final)
			}
		})
	}
}

// The PUT that completes an upload, whose answer was lost after the
// registry took it, is answered from the registry's blob, not sent again
// (the finished upload is unknown to the registry now).
func TestRetryFindsAnUploadCompletedWhoseAnswerWasLost(t *testing.T) {
	var puts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut:
			puts.Add(1)
			w.WriteHeader(http.StatusBadGateway) // it reached the registry, the answer did not come back
		case r.Method == http.MethodHead && r.URL.Path == "/v2/org/app/blobs/sha256:abc":
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	rt := &retrying{next: http.DefaultTransport, retry: Retry{Backoff: time.Millisecond}.withDefaults()}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/org/app/blobs/uploads/u1?_state=s&digest=sha256:abc", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || puts.Load() != 1 || resp.Header.Get("Docker-Content-Digest") != "sha256:abc" {
		t.Errorf("status %d after %d PUTs, want 201 after 1", resp.StatusCode, puts.Load())
	}
}

// A dropped connection is retried; so is a request with a body it can
// replay.
func TestRetryResendsAfterADroppedConnection(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	// Without keep-alives: net/http's own retry of a request on a reused
	// connection plays no part.
	base := &http.Transport{DisableKeepAlives: true}
	rt := &retrying{next: base, retry: Retry{Backoff: time.Millisecond}.withDefaults()}
	req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader("manifest"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || calls.Load() != 3 {
		t.Errorf("status %d after %d calls, want 200 after 3", resp.StatusCode, calls.Load())
	}
}

// A cancelled context ends the wait between attempts at once.
func TestRetryWaitEndsWithTheContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	rt := &retrying{next: http.DefaultTransport, retry: Retry{}.withDefaults()}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	began := time.Now()
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 2*time.Second {
		t.Errorf("RoundTrip past its deadline: %v after %s", err, time.Since(began))
	}
}

func mustGet(t *testing.T, url string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"5":                             5 * time.Second,
		"Mon, 23 Nov 2026 12:00:10 GMT": 10 * time.Second,
		"Mon, 23 Nov 2026 11:00:00 GMT": 0,
		" 7 ":                           7 * time.Second,
		"3600":                          MaxRetryAfter,
		"27700000000":                   MaxRetryAfter,
		"99999999999999999999":          MaxRetryAfter,
		"Fri, 31 Dec 9999 23:59:59 GMT": MaxRetryAfter,
	} {
		got, ok := parseRetryAfter(in, now)
		if !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %s %v, want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "-1", "-99999999999999999999", "soon", "1.5"} {
		if _, ok := parseRetryAfter(bad, now); ok {
			t.Errorf("parseRetryAfter(%q) accepted", bad)
		}
	}
}

// A Retry-After of any size is a wait between 0 and MaxRetryAfter:
// "27700000000" seconds overflowed time.Duration to a negative wait.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "5", "3600", "27700000000", "9223372036854775807", "-1", "", "soon", "Mon, 23 Nov 2026 12:00:10 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		wait, ok := parseRetryAfter(v, now)
		if wait < 0 || wait > MaxRetryAfter {
			t.Errorf("parseRetryAfter(%q) = %s (ok %v), want between 0 and %s", v, wait, ok, MaxRetryAfter)
		}
		if !ok && wait != 0 {
			t.Errorf("parseRetryAfter(%q) refused it but waits %s", v, wait)
		}
	})
}
