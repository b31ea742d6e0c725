package client

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// MaxRetryAfter caps how long a registry's Retry-After is honoured.
const MaxRetryAfter = 60 * time.Second

// retryAfterTries is how many times a Retry-After is waited out per request.
const retryAfterTries = 2

// retryAfter waits out 429 and 503 responses that say when to come back.
// go-containerregistry's own retry (backoff with jitter) wraps this one and
// handles every other transient failure.
type retryAfter struct {
	next http.RoundTripper
}

func (t *retryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	for try := 0; ; try++ {
		resp, err := t.next.RoundTrip(req)
		if err != nil || try >= retryAfterTries {
			return resp, err
		}
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
			return resp, nil
		}
		wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok || wait > MaxRetryAfter {
			return resp, nil
		}
		// The body must be sent again: only requests that can replay it.
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return resp, nil
			}
			body, err := req.GetBody()
			if err != nil {
				return resp, nil
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
	}
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		d := at.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}
