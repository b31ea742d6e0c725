// Package localnode manages the local builder node: a buildkitd that
// polyarch starts on this machine with the OCI worker on runc, which builds
// the host's platform natively and every other platform under QEMU
// (binfmt_misc).
//
// Its state lives in one directory (Dir): buildkitd.toml (written by Start),
// buildkitd.sock, buildkitd.pid, buildkitd.log, and root/ (BuildKit's cache
// and snapshots). Stop ends the daemon and unmounts anything it left below Dir.
package localnode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/client"
)

// Options locate the local node.
type Options struct {
	// Dir is the node's state directory; default DefaultDir().
	Dir string
	// Buildkitd is the daemon binary; default: beside the polyarch binary,
	// then on PATH.
	Buildkitd string
	// Registries are the registries the node pushes to and pulls from
	// ("host[:port]", optionally followed by "/path"): the loopback ones
	// among them (client.IsLoopback) are spoken to over plain HTTP, every
	// other one over HTTPS.
	Registries []string
	// InsecureRegistries are spoken to over plain HTTP whatever they are
	// (host:port): only what the user names ('builder start --insecure-registry').
	InsecureRegistries []string
	// Settings say how each registry is reached, as for polyarch's own
	// requests (polyarch.yaml's registries: and certs.d): the daemon gets
	// the CAs, client certificates, mirrors and insecure marks of every
	// registry in Registries or in Settings.Hosts, and of their mirrors.
	Settings client.Registries
	// Parallel is how many builds it runs at once (default 2).
	Parallel int
}

// DefaultDir is /var/lib/polyarch/buildkit for root, else
// $XDG_DATA_HOME/polyarch/buildkit (~/.local/share/polyarch/buildkit).
func DefaultDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/polyarch/buildkit"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "polyarch", "buildkit")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "polyarch", "buildkit")
}

// dir is the state directory, absolute: buildkitd.toml names paths in it,
// and the daemon does not run where polyarch does.
func (o Options) dir() string {
	d := o.Dir
	if d == "" {
		d = DefaultDir()
	}
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

// Address is the node's gRPC address.
func (o Options) Address() string { return "unix://" + filepath.Join(o.dir(), "buildkitd.sock") }

// Node returns the build node for the local daemon.
func (o Options) Node() *buildkit.Node {
	return &buildkit.Node{
		NodeName:   "local",
		Address:    o.Address(),
		Platforms:  []v1.Platform{buildkit.HostPlatform()},
		Emulates:   true,
		Capacity:   o.Parallel,
		Registries: o.Settings,
	}
}

// Status describes the local node.
type Status struct {
	Running bool
	PID     int
	Address string
	Dir     string
	// Workers lists the platforms BuildKit reports it can build.
	Platforms []string
}

// ErrNotRoot is returned by Start when not running as root: the OCI worker
// on runc needs it.
var ErrNotRoot = errors.New("the local builder runs buildkitd with runc and needs root; run as root, or run a rootless buildkitd yourself and declare it under builders: in polyarch.yaml")

// Start starts the daemon unless it already runs, and waits until it answers.
// It is safe to call at once from several goroutines and processes: one
// daemon starts, and every caller gets it.
//
// A daemon that already runs is used as it is, unless it was started
// without registry settings that o needs: that is a *StaleConfigError.
func Start(ctx context.Context, o Options) (*Status, error) {
	if st, err := Inspect(ctx, o); err == nil && st.Running {
		if err := o.checkRunning(); err != nil {
			return nil, err
		}
		return st, nil
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	bin, err := findBuildkitd(o.Buildkitd)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, errors.New("runc not found: install it (apt-get install runc; scripts/setup.sh does this)")
	}
	dir := o.dir()
	unlock, err := lock(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Whoever held the lock before may have started it meanwhile; or a
	// polyarch that ended while its daemon came up left one that will answer.
	if pid, ok := daemonPID(dir); ok {
		st, err := waitAnswer(ctx, o, pid)
		if err != nil {
			return nil, err
		}
		if err := o.checkRunning(); err != nil {
			return nil, err
		}
		return st, nil
	}
	cfg, err := WriteConfig(o)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(dir, "buildkitd.sock"))
	logf, err := os.OpenFile(filepath.Join(dir, "buildkitd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this polyarch
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	if err := os.WriteFile(filepath.Join(dir, "buildkitd.pid"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return nil, err
	}
	return waitAnswer(ctx, o, pid)
}

// waitAnswer waits until the daemon pid answers on the node's socket.
func waitAnswer(ctx context.Context, o Options, pid int) (*Status, error) {
	dir := o.dir()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := Inspect(ctx, o)
		if err == nil && st.Running {
			return st, nil
		}
		if !alive(pid) {
			return nil, fmt.Errorf("buildkitd exited at start; its log %s ends with:\n%s", filepath.Join(dir, "buildkitd.log"), tail(filepath.Join(dir, "buildkitd.log"), 10))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("buildkitd (pid %d) did not answer on %s within 30s; see %s", pid, o.Address(), filepath.Join(dir, "buildkitd.log"))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WriteConfig writes the daemon's configuration, buildkitd.toml, into the
// state directory (creating it) and returns its path. Start calls it before
// every start of the daemon.
func WriteConfig(o Options) (string, error) {
	dir := o.dir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("local builder state %s: %w", dir, err)
	}
	regs, err := o.registries()
	if err != nil {
		return "", err
	}
	cfg := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(cfg, []byte(configTOML(dir, regs)), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", cfg, err)
	}
	return cfg, nil
}

// registries resolves how the daemon reaches each registry it may talk to:
// the hosts of Registries, Settings.Hosts, InsecureRegistries and their
// mirrors, each once, in that order; only those that need a section.
func (o Options) registries() ([]client.Trust, error) {
	var hosts []string
	add := func(host string) {
		if host != "" && !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	for _, r := range o.Registries {
		host, _, _ := strings.Cut(r, "/")
		add(host)
	}
	for _, h := range slices.Sorted(maps.Keys(o.Settings.Hosts)) {
		add(h)
	}
	for _, r := range o.InsecureRegistries {
		add(r)
	}
	var out []client.Trust
	for i := 0; i < len(hosts); i++ { // mirrors are added as they are found
		t, err := o.Settings.Trust(hosts[i])
		if err != nil {
			return nil, err
		}
		if slices.Contains(o.InsecureRegistries, hosts[i]) {
			t.PlainHTTP = true
		}
		for _, m := range t.Mirrors {
			h, _, _ := strings.Cut(m, "/")
			add(h)
		}
		if t.Custom() {
			out = append(out, t)
		}
	}
	return out, nil
}

// checkRunning checks that the running daemon's buildkitd.toml holds the
// registry sections o needs, but those of loopback registries, which
// BuildKit speaks plain HTTP to by default.
func (o Options) checkRunning() error {
	regs, err := o.registries()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(o.dir(), "buildkitd.toml"))
	if err != nil {
		return err
	}
	var lacking []string
	for _, t := range regs {
		loopbackOnly := client.IsLoopback(t.Host) && !t.Insecure && len(t.CAs)+len(t.KeyPairs)+len(t.Mirrors) == 0
		if !loopbackOnly && !strings.Contains(string(b), registrySection(t)) {
			lacking = append(lacking, t.Host)
		}
	}
	if len(lacking) > 0 {
		return &StaleConfigError{Dir: o.dir(), Hosts: lacking}
	}
	return nil
}

// configTOML is the daemon's configuration.
func configTOML(dir string, regs []client.Trust) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by polyarch; rewritten at every 'polyarch builder start'.\nroot = %q\n\n", filepath.Join(dir, "root"))
	fmt.Fprintf(&b, "[grpc]\n  address = [%q]\n\n", "unix://"+filepath.Join(dir, "buildkitd.sock"))
	b.WriteString("[worker.oci]\n  enabled = true\n  snapshotter = \"overlayfs\"\n\n")
	b.WriteString("[worker.containerd]\n  enabled = false\n")
	for _, t := range regs {
		b.WriteString(registrySection(t))
	}
	return b.String()
}

// registrySection is one registry's section of buildkitd.toml. http = true
// only for loopback and insecure registries (BuildKit then tries HTTPS
// without verification first for an insecure one, as polyarch does).
func registrySection(t client.Trust) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n[registry.%q]\n", t.Host)
	if len(t.Mirrors) > 0 {
		fmt.Fprintf(&b, "  mirrors = %s\n", tomlList(t.Mirrors))
	}
	if t.PlainHTTP {
		b.WriteString("  http = true\n")
	}
	if t.Insecure {
		b.WriteString("  insecure = true\n")
	}
	if len(t.CAs) > 0 {
		fmt.Fprintf(&b, "  ca = %s\n", tomlList(t.CAs))
	}
	for _, kp := range t.KeyPairs {
		fmt.Fprintf(&b, "  [[registry.%q.keypair]]\n    key = %q\n    cert = %q\n", t.Host, kp.Key, kp.Cert)
	}
	return b.String()
}

func tomlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Inspect reports whether the daemon runs and answers.
func Inspect(ctx context.Context, o Options) (*Status, error) {
	st := &Status{Address: o.Address(), Dir: o.dir()}
	pid, err := readPID(o.dir())
	if err != nil || !alive(pid) {
		return st, nil
	}
	st.PID = pid
	n := &buildkit.Node{NodeName: "local", Address: o.Address(), DialTimeout: 2 * time.Second}
	c, err := n.Client(ctx)
	if err != nil {
		return st, err
	}
	defer c.Close()
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		return st, err
	}
	st.Running = true
	seen := map[string]bool{}
	for _, w := range ws {
		for _, p := range w.Platforms {
			s := p.OS + "/" + p.Architecture
			if p.Variant != "" {
				s += "/" + p.Variant
			}
			if !seen[s] {
				seen[s] = true
				st.Platforms = append(st.Platforms, s)
			}
		}
	}
	return st, nil
}

// Stop ends the daemon (SIGTERM, then SIGKILL after 30s) and unmounts
// whatever it left mounted below its directory.
func Stop(ctx context.Context, o Options) error {
	dir := o.dir()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil // never started
	}
	unlock, err := lock(ctx, dir)
	if err != nil {
		return err
	}
	defer unlock()
	pid, err := readPID(dir)
	if err == nil && alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(30 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(200 * time.Millisecond)
		}
	}
	_ = os.Remove(filepath.Join(dir, "buildkitd.pid"))
	mounts, err := MountsBelow(dir)
	if err != nil {
		return err
	}
	// Deepest first.
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("unmounting %s: %w", mounts[i], err)
		}
	}
	if left, _ := MountsBelow(dir); len(left) > 0 {
		return fmt.Errorf("mounts left below %s: %s", dir, strings.Join(left, ", "))
	}
	return nil
}

// MountsBelow lists mount points under dir, from /proc/self/mountinfo.
func MountsBelow(dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == abs || strings.HasPrefix(mp, abs+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// dirLocks serialise Start and Stop on one state directory within this
// process; the lock file, flock(2)ed, across processes.
var (
	dirLocksMu sync.Mutex
	dirLocks   = map[string]chan struct{}{}
)

// lockFile is the file in the state directory that Start and Stop lock.
const lockFile = "start.lock"

// lock holds dir against every other Start and Stop, of this process or
// another, until unlock is called. Waiting ends with ctx.
func lock(ctx context.Context, dir string) (unlock func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	dirLocksMu.Lock()
	held, ok := dirLocks[abs]
	if !ok {
		held = make(chan struct{}, 1)
		dirLocks[abs] = held
	}
	dirLocksMu.Unlock()
	select {
	case held <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the local builder's lock %s: %w", filepath.Join(abs, lockFile), ctx.Err())
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		<-held
		return nil, fmt.Errorf("local builder state %s: %w", abs, err)
	}
	fl := flock.New(filepath.Join(abs, lockFile))
	if _, err := fl.TryLockContext(ctx, 50*time.Millisecond); err != nil {
		<-held
		return nil, fmt.Errorf("locking %s: %w", fl.Path(), err)
	}
	return func() {
		_ = fl.Unlock()
		<-held
	}, nil
}

// daemonPID is the pid of the buildkitd started on dir's config, when it
// still runs (a pid file naming a reused pid does not count).
func daemonPID(dir string) (int, bool) {
	pid, err := readPID(dir)
	if err != nil || !alive(pid) {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return pid, slices.Contains(args, filepath.Join(dir, "buildkitd.toml"))
}

func readPID(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "buildkitd.pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is not alive.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndex(s, ")"); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func findBuildkitd(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "buildkitd")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("buildkitd"); err == nil {
		return p, nil
	}
	return "", errors.New("buildkitd not found beside polyarch or on PATH: scripts/setup.sh builds the pinned v0.34.2 into bin/")
}

func tail(file string, n int) string {
	b, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// StaleConfigError says that the running daemon was started without
// registry settings this run needs: it reads buildkitd.toml only at start.
type StaleConfigError struct {
	Dir string
	// Hosts are the registries whose settings it lacks.
	Hosts []string
}

func (e *StaleConfigError) Error() string {
	return fmt.Sprintf("the local builder (%s) runs without the settings this run needs for registry %s (CAs, client certificates, mirrors, insecure); stop it to apply them at its next start: polyarch builder stop --builder-dir %s",
		e.Dir, strings.Join(e.Hosts, ", "), e.Dir)
}
