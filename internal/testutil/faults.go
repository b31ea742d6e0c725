package testutil

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Fault is one way a request fails: an error status (500, 503, or 429 with
// Retry-After) or, with Status 0, a connection reset without an answer.
// After says the registry handled the request first: it acted, and the
// client does not know.
type Fault struct {
	Status int
	After  bool
}

func (f Fault) String() string {
	s := "reset"
	if f.Status != 0 {
		s = strconv.Itoa(f.Status)
	}
	if f.After {
		return s + " after forwarding"
	}
	return s + " before forwarding"
}

// FaultOptions says which requests a FaultProxy fails.
type FaultOptions struct {
	// Rate is the share of requests failed, each way as likely: 500, 503,
	// 429 with Retry-After, reset; before or after forwarding.
	Rate float64
	// Seed seeds the choice, so a run fails the same share the same ways.
	Seed uint64
	// RetryAfter is the Retry-After of 429 answers; default "0".
	RetryAfter string
	// Max bounds how many requests are failed in all; 0 is no bound.
	Max int
	// Choose, when set, decides instead of Rate: the fault for r, or nil.
	Choose func(r *http.Request) *Fault
}

// FaultProxy is a reverse proxy on loopback in front of a registry that
// fails requests as FaultOptions says, the way a loaded registry or a
// flaky network does. It counts what the registry accepted, to check what
// clients sent again.
type FaultProxy struct {
	// Host is the proxy's host:port, for references.
	Host string

	opts FaultOptions
	rp   *httputil.ReverseProxy

	mu       sync.Mutex
	rnd      *rand.Rand
	injected map[string]int
	commits  map[string]int
}

// NewFaultProxy starts a FaultProxy in front of target (a URL such as
// Registry.Server.URL), stopped when the test ends.
func NewFaultProxy(t testing.TB, target string, o FaultOptions) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	if o.RetryAfter == "" {
		o.RetryAfter = "0"
	}
	p := &FaultProxy{
		opts:     o,
		rp:       httputil.NewSingleHostReverseProxy(u),
		rnd:      rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		injected: map[string]int{},
		commits:  map[string]int{},
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// choose picks the fault for r, or nil, and counts it.
func (p *FaultProxy) choose(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	for _, n := range p.injected {
		total += n
	}
	if p.opts.Max > 0 && total >= p.opts.Max {
		return nil
	}
	var f *Fault
	if p.opts.Choose != nil {
		f = p.opts.Choose(r)
	} else if p.rnd.Float64() < p.opts.Rate {
		f = &Fault{Status: []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests, 0}[p.rnd.IntN(4)], After: p.rnd.IntN(2) == 1}
	}
	if f != nil {
		p.injected[f.String()]++
	}
	return f
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := p.choose(r)
	if f == nil {
		rec := &statusRecorder{ResponseWriter: w}
		p.rp.ServeHTTP(rec, r)
		p.count(r, rec.status)
		return
	}
	if f.After {
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		p.count(r, rec.Code)
	} else if r.Body != nil {
		// Read what the client sends, as a registry that fails late does,
		// so that it sees the answer rather than a write error.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	}
	if f.Status == 0 {
		reset(w)
		return
	}
	if f.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", p.opts.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	code := "UNKNOWN"
	if f.Status == http.StatusTooManyRequests {
		code = "TOOMANYREQUESTS"
	} else if f.Status == http.StatusServiceUnavailable {
		code = "UNAVAILABLE"
	}
	_, _ = io.Copy(w, bytes.NewBufferString(`{"errors":[{"code":"`+code+`","message":"injected fault"}]}`))
}

// reset closes the connection at once, with a TCP reset and no answer.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// count notes a blob upload the registry completed.
func (p *FaultProxy) count(r *http.Request, status int) {
	repo, _, ok := strings.Cut(r.URL.Path, "/blobs/uploads/")
	if !ok || r.Method != http.MethodPut || status != http.StatusCreated {
		return
	}
	p.mu.Lock()
	p.commits[strings.TrimPrefix(repo, "/v2/")+"@"+r.URL.Query().Get("digest")]++
	p.mu.Unlock()
}

// Injected returns how many requests were failed, by the way they failed.
func (p *FaultProxy) Injected() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.injected {
		out[k] = v
	}
	return out
}

// Commits returns how many times the registry completed an upload of each
// blob, by repository@digest.
func (p *FaultProxy) Commits() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.commits {
		out[k] = v
	}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush passes streamed answers on as the registry sends them.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
