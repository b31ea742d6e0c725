package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// counts is what the counting proxy saw of one tool's run: requests by
// method, and blob bytes in each direction. It is the same independent
// counter for every tool, polyarch's and the peers'.
type counts struct {
	Requests int            `json:"requests"`
	ByMethod map[string]int `json:"by_method"`
	// BlobUp is the bytes of request bodies sent to blob upload endpoints
	// (/v2/<name>/blobs/uploads/...): blob bytes moved into the registry.
	BlobUp int64 `json:"blob_bytes_up"`
	// BlobDown is the bytes of response bodies of blob GETs
	// (/v2/<name>/blobs/<digest>): blob bytes read from the registry.
	BlobDown int64 `json:"blob_bytes_down"`
	// Trace is every request, in the order they completed:
	// "METHOD path?query status".
	Trace []string `json:"-"`
}

func (c counts) add(d counts) counts {
	out := counts{Requests: c.Requests + d.Requests, BlobUp: c.BlobUp + d.BlobUp, BlobDown: c.BlobDown + d.BlobDown, ByMethod: map[string]int{}}
	out.Trace = append(append(out.Trace, c.Trace...), d.Trace...)
	for m, n := range c.ByMethod {
		out.ByMethod[m] += n
	}
	for m, n := range d.ByMethod {
		out.ByMethod[m] += n
	}
	return out
}

var (
	uploadPath = regexp.MustCompile(`^/v2/.+/blobs/uploads/`)
	blobPath   = regexp.MustCompile(`^/v2/.+/blobs/[a-z0-9]+:[a-f0-9]+$`)
)

// proxy is a counting reverse proxy on a loopback port in front of one
// registry. It keeps the client's Host header, so the upload locations the
// registry hands out point back at the proxy and every later request of an
// upload is counted too.
type proxy struct {
	addr string
	srv  *http.Server
	tr   *http.Transport

	mu       sync.Mutex
	byMethod map[string]int
	requests int
	trace    []string
	blobUp   atomic.Int64
	blobDown atomic.Int64
}

func startProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: "http", Host: target}
	p := &proxy{
		addr:     ln.Addr().String(),
		byMethod: map[string]int{},
		tr:       &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		Transport: p.tr,
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests++
		p.byMethod[r.Method]++
		p.mu.Unlock()
		if uploadPath.MatchString(r.URL.Path) && r.Body != nil && r.Body != http.NoBody {
			r.Body = &countingReader{ReadCloser: r.Body, n: &p.blobUp}
		}
		cw := &countingWriter{ResponseWriter: w, n: &p.blobDown, status: http.StatusOK}
		cw.count = r.Method == http.MethodGet && blobPath.MatchString(r.URL.Path)
		rp.ServeHTTP(cw, r)
		p.mu.Lock()
		p.trace = append(p.trace, fmt.Sprintf("%s %s %d", r.Method, r.URL.RequestURI(), cw.status))
		p.mu.Unlock()
	}), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// take returns the counts since the last take and starts again from zero.
func (p *proxy) take() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := counts{Requests: p.requests, ByMethod: p.byMethod, BlobUp: p.blobUp.Swap(0), BlobDown: p.blobDown.Swap(0), Trace: p.trace}
	p.requests, p.byMethod, p.trace = 0, map[string]int{}, nil
	return c
}

func (p *proxy) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.srv.Shutdown(ctx)
	p.tr.CloseIdleConnections()
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	r.n.Add(int64(n))
	return n, err
}

// countingWriter notes the response status and, for blob GETs, counts
// the body's bytes.
type countingWriter struct {
	http.ResponseWriter
	n      *atomic.Int64
	count  bool
	status int
}

func (w *countingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	if w.count {
		w.n.Add(int64(n))
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flushes).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeTrace writes c's requests, one a line, to dir/name.txt (-trace).
func writeTrace(dir, name string, c counts) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".txt"), []byte(strings.Join(c.Trace, "\n")+"\n"), 0o644)
}
