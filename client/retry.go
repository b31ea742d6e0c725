package client

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Retry says how requests that fail transiently are tried again: a dropped
// connection, or an answer of 408, 429, 500, 502, 503 or 504. The zero
// value is the defaults below.
//
// Each request is resent on its own, so one failed request does not restart
// the blob upload or the image it belongs to. A blob upload's PATCH, whose
// data the registry may have taken in part, is resent only when the upload's
// status says the registry took none of it; otherwise go-containerregistry
// tries that blob again from a new upload (Attempts times), after checking
// whether the registry has it already. The PUT that
// completes an upload, when its answer is lost, is not resent either if the
// registry has the blob by then. Blobs already uploaded are never sent
// again.
type Retry struct {
	// Attempts is how many times one request is sent at most, and how many
	// times one blob upload or manifest write is tried; default 5.
	Attempts int
	// Backoff is the wait before the second attempt, doubled before each
	// one after (with up to 10% jitter); default 500ms.
	Backoff time.Duration
	// MaxWait bounds the total wait of one request, a registry's
	// Retry-After included (each at most MaxRetryAfter); default 60s. A wait
	// that does not fit is not waited: the failure is returned.
	MaxWait time.Duration
}

// Retry defaults.
const (
	DefaultAttempts = 5
	DefaultBackoff  = 500 * time.Millisecond
	DefaultMaxWait  = 60 * time.Second
)

// MaxRetryAfter caps how long a registry's Retry-After is honoured.
const MaxRetryAfter = 60 * time.Second

func (r Retry) withDefaults() Retry {
	if r.Attempts < 1 {
		r.Attempts = DefaultAttempts
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultBackoff
	}
	if r.MaxWait <= 0 {
		r.MaxWait = DefaultMaxWait
	}
	return r
}

// backoff is go-containerregistry's retry of whole blob uploads and
// manifest writes, beneath which this package resends single requests.
func (r Retry) backoff() remote.Backoff {
	return remote.Backoff{Duration: r.Backoff, Factor: 2, Jitter: 0.1, Steps: r.Attempts}
}

// retrying resends requests that failed transiently, as Retry says.
type retrying struct {
	next  http.RoundTripper
	retry Retry
}

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		resp, err := t.next.RoundTrip(req)
		if ctx.Err() != nil {
			if resp != nil {
				resp.Body.Close()
			}
			return nil, ctx.Err()
		}
		// An upload completed by an earlier attempt whose answer was lost
		// is unknown to the registry now (404).
		lost := transient(resp, err) || (attempt > 1 && resp != nil && resp.StatusCode == http.StatusNotFound)
		if lost {
			if done := t.committed(req); done != nil {
				if resp != nil {
					resp.Body.Close()
				}
				return done, nil
			}
		}
		if !transient(resp, err) || attempt >= t.retry.Attempts || (req.Method == http.MethodPatch && !t.untouched(req)) {
			return resp, err
		}
		wait := t.retry.Backoff << (attempt - 1)
		wait += time.Duration(rand.Int64N(int64(wait)/10 + 1))
		if resp != nil {
			if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && ra > wait {
				wait = ra
			}
		}
		if waited+wait > t.retry.MaxWait {
			return resp, err
		}
		next := req
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return resp, err
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return resp, err
			}
			next = req.Clone(ctx)
			next.Body = body
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
		req = next
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// transient reports a failure worth trying again.
func transient(resp *http.Response, err error) bool {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return false
		}
		var te interface{ Temporary() bool }
		if errors.As(err, &te) && te.Temporary() {
			return true
		}
		return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
			errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// untouched reports whether the upload a failed PATCH was sending holds no
// data yet, as its status (GET on the same location) says: then the PATCH
// can be sent again as it was. A registry that took data, or cannot say,
// answers otherwise (distribution refuses the status of an upload whose
// size moved past the location's state).
func (t *retrying) untouched(req *http.Request) bool {
	status, err := http.NewRequestWithContext(req.Context(), http.MethodGet, req.URL.String(), nil)
	if err != nil {
		return false
	}
	status.Header.Set("Authorization", req.Header.Get("Authorization"))
	status.Header.Set("User-Agent", req.Header.Get("User-Agent"))
	resp, err := t.RoundTrip(status) // retried itself: it goes where the PATCH went
	if err != nil {
		return false
	}
	resp.Body.Close()
	r := strings.TrimPrefix(resp.Header.Get("Range"), "bytes=")
	return resp.StatusCode == http.StatusNoContent && (r == "" || r == "0-0")
}

// committed answers for the PUT that completes a blob upload when the
// registry has the blob already: the PUT reached it and its answer was lost
// (sent again, the finished upload would be unknown). It returns nil for any
// other request, or when the blob is not there.
func (t *retrying) committed(req *http.Request) *http.Response {
	digest := req.URL.Query().Get("digest")
	repo, _, isUpload := strings.Cut(req.URL.Path, "/blobs/uploads/")
	if req.Method != http.MethodPut || digest == "" || !isUpload {
		return nil
	}
	u := *req.URL
	u.Path, u.RawPath, u.RawQuery = repo+"/blobs/"+digest, "", ""
	head, err := http.NewRequestWithContext(req.Context(), http.MethodHead, u.String(), nil)
	if err != nil {
		return nil
	}
	head.Header.Set("Authorization", req.Header.Get("Authorization"))
	head.Header.Set("User-Agent", req.Header.Get("User-Agent"))
	resp, err := t.RoundTrip(head) // retried itself: it goes where the PUT went
	if err != nil {
		return nil
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	h := http.Header{}
	h.Set("Location", u.Path)
	h.Set("Docker-Content-Digest", digest)
	h.Set("Content-Length", "0")
	return &http.Response{Status: "201 Created", StatusCode: http.StatusCreated, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: http.NoBody, ContentLength: 0, Request: req}
}

// parseRetryAfter reads delay-seconds or an HTTP date, as a wait between 0
// and MaxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if strings.HasPrefix(v, "-") {
			return 0, false
		}
		if err != nil || secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(at.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}
