// Package buildkit builds jobs on a buildkitd with the Dockerfile frontend
// and pushes each result under its arch-named reference.
package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/docker/cli/cli/config"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	bk "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/platform"
)

// TLS are client certificates for a tcp:// buildkitd.
type TLS struct {
	CA, Cert, Key, ServerName string
}

// Node is a buildkitd at Address.
type Node struct {
	NodeName string
	// Address: unix:///run/buildkit/buildkitd.sock or tcp://host:port.
	Address string
	TLS     *TLS
	// Platforms are built natively.
	Platforms []v1.Platform
	// Emulates, on the local node, every platform it has QEMU for: before a
	// build it checks binfmt_misc and says what to install when it cannot.
	Emulates bool
	// Capacity is how many builds run at once (default 2).
	Capacity int
	// DialTimeout bounds the connection to the daemon (default 10s).
	DialTimeout time.Duration
	// Display, when set, also shows every build's progress in BuildKit's
	// terminal view (the log still gets plain lines).
	Display *Display
	// Warn, when set, is told what the user should know of a build that
	// succeeded, in one line (a registry that refused a cache form);
	// without it, the build's log is.
	Warn func(string)
	// Registries say how registries are reached: this process fetches
	// tokens for buildkitd with their TLS settings. buildkitd's own
	// requests follow its buildkitd.toml (localnode writes the local
	// node's from the same settings).
	Registries client.Registries
}

var _ build.Emulator = (*Node)(nil)

// Name implements build.Node.
func (n *Node) Name() string { return n.NodeName }

// Native implements build.Node.
func (n *Node) Native(p v1.Platform) bool {
	for _, q := range n.Platforms {
		if platform.Same(p, q) {
			return true
		}
	}
	return false
}

// CanEmulate implements build.Emulator: a node that Emulates runs every
// platform CheckEmulation allows; any other node emulates nothing.
func (n *Node) CanEmulate(p v1.Platform) error {
	if !n.Emulates {
		return fmt.Errorf("builder node %q builds only %s", n.NodeName, platform.FormatList(n.Platforms))
	}
	if err := CheckEmulation(p); err != nil {
		var ee *EmulationError
		if errors.As(err, &ee) {
			return emulationReason{ee} // the caller names the platform
		}
		return err
	}
	return nil
}

// emulationReason is an EmulationError said without its platform.
type emulationReason struct{ *EmulationError }

func (r emulationReason) Error() string { return r.Reason + "; " + r.Fix }
func (r emulationReason) Unwrap() error { return r.EmulationError }

// Parallel implements build.Node.
func (n *Node) Parallel() int {
	if n.Capacity > 0 {
		return n.Capacity
	}
	return 2
}

// HostPlatform is the platform this machine runs natively.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if p.Architecture == "arm" {
		p.Variant = "v7"
	}
	return p
}

// Client connects to the node, checking that it answers.
func (n *Node) Client(ctx context.Context) (*bk.Client, error) {
	var opts []bk.ClientOpt
	if n.TLS != nil {
		if n.TLS.CA != "" {
			opts = append(opts, bk.WithServerConfig(n.TLS.ServerName, n.TLS.CA))
		} else {
			opts = append(opts, bk.WithServerConfigSystem(n.TLS.ServerName))
		}
		if n.TLS.Cert != "" {
			opts = append(opts, bk.WithCredentials(n.TLS.Cert, n.TLS.Key))
		}
	}
	c, err := bk.New(ctx, n.Address, opts...)
	if err != nil {
		return nil, &build.NodeError{Node: n.NodeName, Err: fmt.Errorf("connecting to %s: %w", n.Address, err)}
	}
	timeout := n.DialTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := c.Info(pctx); err != nil {
		c.Close()
		return nil, &build.NodeError{Node: n.NodeName, Err: fmt.Errorf("%s does not answer: %w", n.Address, unwrapGRPC(err))}
	}
	return c, nil
}

// unwrapGRPC shortens gRPC's connection errors to their cause.
func unwrapGRPC(err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, "desc = "); i >= 0 {
		msg = msg[i+len("desc = "):]
	}
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "no answer in time (" + msg + ")"
	}
	return errors.New(msg)
}

// Build implements build.Node: one solve with the Dockerfile frontend,
// exported as an image pushed to job.Ref.
func (n *Node) Build(ctx context.Context, job build.Job, log io.Writer) (build.Output, error) {
	if n.Emulates && !n.Native(job.Platform) {
		if err := CheckEmulation(job.Platform); err != nil {
			return build.Output{}, err
		}
	}
	c, err := n.Client(ctx)
	if err != nil {
		return build.Output{}, err
	}
	defer c.Close()

	ctxFS, err := fsutil.NewFS(job.Context)
	if err != nil {
		return build.Output{}, fmt.Errorf("build context %s: %w", job.Context, err)
	}
	dfDir, dfName := filepath.Split(job.Dockerfile)
	if dfDir == "" {
		dfDir = "."
	}
	dfFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return build.Output{}, fmt.Errorf("dockerfile %s: %w", job.Dockerfile, err)
	}
	attrs := map[string]string{
		"platform": platform.Format(job.Platform),
		"filename": dfName,
	}
	if job.Target != "" {
		attrs["target"] = job.Target
	}
	for _, k := range sortedKeys(job.Args) {
		attrs["build-arg:"+k] = job.Args[k]
	}
	for _, k := range sortedKeys(job.Labels) {
		attrs["label:"+k] = job.Labels[k]
	}
	if job.Cache.NoCache {
		attrs["no-cache"] = ""
	}
	export := map[string]string{"name": job.Ref, "push": "true"}
	if job.ByDigest {
		export["push-by-digest"] = "true"
	}
	for _, k := range sortedKeys(job.Annotations) {
		export["annotation."+k] = job.Annotations[k]
	}
	host := cacheHost(job.Cache.Ref)
	kind := cacheForms.kind(host)
	opt := bk.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Exports:       []bk.ExportEntry{{Type: bk.ExporterImage, Attrs: export}},
		Session:       n.session(job.Ref, job.Cache.Ref),
	}
	opt.CacheImports, opt.CacheExports = cacheEntries(job.Cache, kind)
	resp, cacheErr, err := n.solve(ctx, c, opt, job, log)
	if err != nil {
		return build.Output{}, fmt.Errorf("building %s: %w", job.Name(), cleanSolveError(err))
	}
	dgst := resp.ExporterResponse["containerimage.digest"]
	if dgst == "" {
		return build.Output{}, fmt.Errorf("building %s: buildkitd reported no image digest", job.Name())
	}
	// The registry refused the cache's form: the image is pushed; export
	// the cache in the next form, from what the node has just built.
	for cacheErr != "" && len(opt.CacheExports) > 0 {
		next, news := cacheForms.refused(host, kind)
		if news {
			n.warn(log, refusalWarning(host, kind, next, cacheErr))
		}
		kind, cacheErr = next, ""
		opt.Exports = nil
		opt.CacheImports, opt.CacheExports = cacheEntries(job.Cache, kind)
		if len(opt.CacheExports) == 0 {
			break
		}
		if _, cacheErr, err = n.solve(ctx, c, opt, job, log); err != nil {
			n.warn(log, fmt.Sprintf("exporting the cache of %s to %s: %v", job.Name(), job.Cache.Ref, cleanSolveError(err)))
			break
		}
	}
	return build.Output{Digest: dgst, Ref: job.Ref}, nil
}

// solve runs one solve, streaming its progress to log (and the Display);
// cacheErr is the error of its registry cache export, which the solve
// itself ignores.
func (n *Node) solve(ctx context.Context, c *bk.Client, opt bk.SolveOpt, job build.Job, log io.Writer) (resp *bk.SolveResponse, cacheErr string, err error) {
	ch := make(chan *bk.SolveStatus)
	display, err := progressui.NewDisplay(log, progressui.PlainMode)
	if err != nil {
		return nil, "", err
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		resp, err = c.Solve(ectx, nil, opt, ch)
		return err
	})
	plain := make(chan *bk.SolveStatus)
	eg.Go(func() error {
		defer close(plain)
		for s := range ch {
			for _, v := range s.Vertexes {
				if v.Name == cacheExportVertex && v.Error != "" {
					cacheErr = v.Error
				}
			}
			if n.Display != nil {
				n.Display.send(job.Name(), s)
			}
			plain <- s
		}
		return nil
	})
	eg.Go(func() error {
		_, err := display.UpdateFrom(context.WithoutCancel(ectx), plain)
		return err
	})
	err = eg.Wait()
	return resp, cacheErr, err
}

// warn says msg to the user through Warn, else in the build's log.
func (n *Node) warn(log io.Writer, msg string) {
	if n.Warn != nil {
		n.Warn(msg)
		return
	}
	fmt.Fprintf(log, "warning: %s\n", msg)
}

// session is what every solve on the node attaches: credentials from the
// Docker config and its credential helpers, which buildkitd asks for at
// each push and pull, and the TLS settings of the registries of refs (and
// of Registries.Hosts) for the token requests this process makes for it.
func (n *Node) session(refs ...string) []session.Attachable {
	hosts := slices.Sorted(maps.Keys(n.Registries.Hosts))
	for _, r := range refs {
		if r != "" {
			hosts = append(hosts, cacheHost(r))
		}
	}
	tlsConfigs := map[string]*authprovider.AuthTLSConfig{}
	for _, h := range hosts {
		t, err := n.Registries.Trust(h)
		if err != nil || len(t.CAs)+len(t.KeyPairs) == 0 && !t.Insecure {
			continue // buildkitd reports a bad certs.d itself, from its config
		}
		c := &authprovider.AuthTLSConfig{RootCAs: t.CAs, Insecure: t.Insecure}
		for _, kp := range t.KeyPairs {
			c.KeyPairs = append(c.KeyPairs, authprovider.TLSKeyPair{Certificate: kp.Cert, Key: kp.Key})
		}
		tlsConfigs[h] = c
	}
	return []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(config.LoadDefaultConfigFile(io.Discard)),
		TLSConfigs:         tlsConfigs,
	})}
}

// cleanSolveError keeps BuildKit's message, without gRPC's wrapping.
func cleanSolveError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "rpc error: code = Unknown desc = ")
	return errors.New(msg)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
