package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrPublicWithoutAuth is returned when asked to listen beyond loopback with
// no authentication and without WithInsecurePublic.
var ErrPublicWithoutAuth = errors.New("refusing to serve a registry without authentication on a non-loopback address (use --htpasswd, or --insecure-public to accept the risk)")

// ErrPasswordsInClear is returned when asked to listen beyond loopback with
// authentication but without TLS, where every request would carry a password
// (or token) in clear, and without WithInsecurePublic.
var ErrPasswordsInClear = errors.New("refusing authentication without TLS on a non-loopback address: passwords would cross the network in clear (add --tls-cert and --tls-key, or --insecure-public to accept the risk)")

// ShutdownGrace is how long in-flight requests get to finish after the
// context passed to Serve is cancelled.
const ShutdownGrace = 30 * time.Second

// Listen opens addr after checking that serving there is allowed: a
// non-loopback address needs authentication, and authentication there needs
// TLS, unless WithInsecurePublic accepts the risk.
func (r *Registry) Listen(addr string) (net.Listener, error) {
	if !r.opts.insecurePublic && !IsLoopback(addr) {
		switch {
		case !r.AuthEnabled():
			return nil, fmt.Errorf("%s: %w", addr, ErrPublicWithoutAuth)
		case !r.TLSEnabled():
			return nil, fmt.Errorf("%s: %w", addr, ErrPasswordsInClear)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves on ln until ctx is cancelled, then stops accepting, lets
// in-flight requests finish (up to ShutdownGrace) and returns nil. Uploads cut
// short stay in distribution's upload area and never become visible blobs.
func (r *Registry) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           r.handler,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if r.opts.tlsCert != "" {
			errc <- srv.ServeTLS(plainHTTPLogger{Listener: ln, log: r.opts.logWriter()}, r.opts.tlsCert, r.opts.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		_ = r.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	_ = r.Close()
	if err != nil {
		return fmt.Errorf("shutting down registry: %w", err)
	}
	return nil
}

// ListenAndServe is Listen then Serve.
func (r *Registry) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := r.Listen(addr)
	if err != nil {
		return err
	}
	return r.Serve(ctx, ln)
}

// IsLoopback reports whether a host:port names only loopback interfaces.
// An empty host ("":5000) means every interface, which is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plainHTTPLogger names, in the request log, each client that speaks
// plain HTTP to the TLS port: Go's server answers it 400 and logs nothing.
type plainHTTPLogger struct {
	net.Listener
	log io.Writer
}

func (l plainHTTPLogger) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.log == io.Discard {
		return c, err
	}
	return &firstBytes{Conn: c, log: l.log}, nil
}

// firstBytes looks at the first bytes a client sends: a TLS connection
// starts with a handshake record (0x16), an HTTP request with a method.
type firstBytes struct {
	net.Conn
	log  io.Writer
	seen bool
}

func (c *firstBytes) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if !c.seen && n > 0 {
		c.seen = true
		if b[0] >= 'A' && b[0] <= 'Z' {
			fmt.Fprintf(c.log, "%s plain HTTP request from %s refused: this registry serves HTTPS\n", time.Now().UTC().Format(time.RFC3339), c.RemoteAddr())
		}
	}
	return n, err
}

// requestLog writes one line per request: method, path, status, bytes, time.
func requestLog(next http.Handler, w io.Writer) http.Handler {
	if w == io.Discard {
		return next
	}
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(sw, req)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s %s %s %d %dB %s\n", start.UTC().Format(time.RFC3339), req.Method, req.URL.RequestURI(), sw.status, sw.bytes, time.Since(start).Round(time.Microsecond))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
