package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// counts is what the proxy saw: requests, by method.
type counts struct {
	Requests int            `json:"requests"`
	ByMethod map[string]int `json:"byMethod"`
	// Trace is every request, "METHOD path", in the order they arrived.
	Trace []string `json:"-"`
	// platformKeys are the paths of the platforms' repositories and their
	// images' digests, by which split tells their requests.
	platformKeys []string
}

// split divides the requests into those of the index (its repository, its
// tags) and those of n platforms (naming a platform's repository or its
// image's digest), per platform. A ping (GET /v2/) names no repository:
// each platform's repository is pinged once, the other pings are the
// index's.
func (c counts) split(n int) (perIndex int, perPlatform float64) {
	platform, pings := 0, 0
	for _, t := range c.Trace {
		if t == "GET /v2/" {
			pings++
			continue
		}
		for _, k := range c.platformKeys {
			if strings.Contains(t, k) {
				platform++
				break
			}
		}
	}
	pp := min(pings, n)
	platform += pp
	return c.Requests - platform, float64(platform) / float64(n)
}

// proxy is a counting reverse proxy on a loopback port in front of the
// registry. It keeps the client's Host header, so the upload locations the
// registry hands out point back at the proxy and every request is counted.
type proxy struct {
	addr   string
	target string
	srv    *http.Server
	mu     sync.Mutex
	n      counts
}

func startProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{addr: ln.Addr().String(), target: target, n: counts{ByMethod: map[string]int{}}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.n.Requests++
		p.n.ByMethod[r.Method]++
		p.n.Trace = append(p.n.Trace, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// take returns the counts since the last take and starts again.
func (p *proxy) take() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.n
	p.n = counts{ByMethod: map[string]int{}}
	return n
}

func (p *proxy) close() { p.srv.Close() }
