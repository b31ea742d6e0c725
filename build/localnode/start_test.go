package localnode_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/internal/testutil"
)

// startEnv makes the test binary a second polyarch process that calls Start
// on a state directory once a go-file appears, then exits.
const startEnv = "POLYARCH_LOCALNODE_TEST_START"

func TestMain(m *testing.M) {
	if spec := os.Getenv(startEnv); spec != "" {
		dir, goFile, _ := strings.Cut(spec, ",")
		for {
			if _, err := os.Stat(goFile); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		st, err := localnode.Start(context.Background(), localnode.Options{Dir: dir, Buildkitd: os.Getenv("POLYARCH_BUILDKITD")})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(st.PID)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// needsDaemon skips (or under POLYARCH_E2E=1 fails) unless buildkitd can run here.
func needsDaemon(t *testing.T) string {
	t.Helper()
	bin := testutil.Tool(t, "buildkitd")
	testutil.Tool(t, "runc")
	if os.Geteuid() != 0 {
		if testutil.E2E() {
			t.Fatal("the local node needs root (buildkitd with runc)")
		}
		t.Skip("the local node needs root (buildkitd with runc)")
	}
	return bin
}

// daemonsOf lists the pids of buildkitd processes started on dir's config.
func daemonsOf(t *testing.T, dir string) []int {
	t.Helper()
	want := filepath.Join(dir, "buildkitd.toml")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) < 3 || filepath.Base(args[0]) != "buildkitd" {
			continue
		}
		for i, a := range args[:len(args)-1] {
			if a == "--config" && args[i+1] == want {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				if !zombie(pid) {
					out = append(out, pid)
				}
			}
		}
	}
	return out
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// Up to four image tests call Start at once when the builder is stopped,
// and two polyarch commands may too: one daemon must come of it, whoever
// asks, and every caller gets that one.
func TestStartIsOnceAcrossGoroutinesAndProcesses(t *testing.T) {
	bin := needsDaemon(t)
	dir, err := os.MkdirTemp("", "polyarch-localnode-")
	if err != nil {
		t.Fatal(err)
	}
	o := localnode.Options{Dir: dir, Buildkitd: bin}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := localnode.Stop(ctx, o); err != nil {
			t.Errorf("stop: %v", err)
		}
		for _, pid := range daemonsOf(t, dir) {
			t.Errorf("buildkitd %d still runs on %s after Stop", pid, dir)
		}
		os.RemoveAll(dir)
	})

	goFile := filepath.Join(t.TempDir(), "go")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const processes, goroutines = 2, 4
	type outcome struct {
		who string
		pid string
		err error
	}
	results := make(chan outcome, processes+goroutines)
	var wg sync.WaitGroup
	for i := range processes {
		cmd := exec.Command(exe, "-test.run", "^$")
		cmd.Env = append(os.Environ(), startEnv+"="+dir+","+goFile, "POLYARCH_BUILDKITD="+bin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cmd.Wait()
			if err != nil {
				err = fmt.Errorf("%v: %s", err, stderr.String())
			}
			results <- outcome{who: fmt.Sprintf("process %d", i), pid: strings.TrimSpace(stdout.String()), err: err}
		}()
	}
	time.Sleep(200 * time.Millisecond) // the processes are up, polling for goFile
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := localnode.Start(context.Background(), o)
			pid := ""
			if st != nil {
				pid = strconv.Itoa(st.PID)
			}
			results <- outcome{who: fmt.Sprintf("goroutine %d", i), pid: pid, err: err}
		}()
	}
	wg.Wait()
	close(results)

	daemons := daemonsOf(t, dir)
	if len(daemons) != 1 {
		t.Fatalf("%d buildkitd processes run on %s, want 1: %v", len(daemons), dir, daemons)
	}
	want := strconv.Itoa(daemons[0])
	for r := range results {
		if r.err != nil {
			t.Errorf("%s: Start: %v", r.who, r.err)
		} else if r.pid != want {
			t.Errorf("%s: Start says pid %s, the daemon is %s", r.who, r.pid, want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "buildkitd.pid"))
	if err != nil || strings.TrimSpace(string(b)) != want {
		t.Errorf("buildkitd.pid holds %q (%v), the daemon is %s", b, err, want)
	}
	st, err := localnode.Inspect(context.Background(), o)
	if err != nil || !st.Running || strconv.Itoa(st.PID) != want {
		t.Errorf("the socket does not answer for pid %s: %+v, %v", want, st, err)
	}
}

// A running daemon keeps the registry settings it started with: a run that
// needs others (a private CA added to polyarch.yaml) is told to restart it,
// naming the registry, rather than failing later on a certificate.
func TestStartSaysWhenTheRunningDaemonLacksRegistrySettings(t *testing.T) {
	bin := needsDaemon(t)
	dir, err := os.MkdirTemp("", "polyarch-localnode-")
	if err != nil {
		t.Fatal(err)
	}
	plain := localnode.Options{Dir: dir, Buildkitd: bin, Registries: []string{"127.0.0.1:5000"}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := localnode.Stop(ctx, plain); err != nil {
			t.Errorf("stop: %v", err)
		}
		os.RemoveAll(dir)
	})
	ctx := context.Background()
	if _, err := localnode.Start(ctx, plain); err != nil {
		t.Fatal(err)
	}
	// Loopback registries need nothing the daemon lacks; neither does a run
	// without polyarch.yaml.
	for _, o := range []localnode.Options{{Dir: dir, Buildkitd: bin}, {Dir: dir, Buildkitd: bin, Registries: []string{"127.0.0.1:6000"}}} {
		if _, err := localnode.Start(ctx, o); err != nil {
			t.Errorf("Start %+v on the running daemon: %v", o.Registries, err)
		}
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("x"), 0o644)
	withCA := plain
	withCA.Settings = client.Registries{Hosts: map[string]client.Registry{"registry.test:5443": {CA: []string{ca}}}, CertsDirs: []string{}}
	_, err = localnode.Start(ctx, withCA)
	var stale *localnode.StaleConfigError
	if !errors.As(err, &stale) || !strings.Contains(err.Error(), "registry.test:5443") || !strings.Contains(err.Error(), "polyarch builder stop --builder-dir "+dir) {
		t.Fatalf("Start with a CA the running daemon lacks: %v", err)
	}
	// Stopped and started again, it has them.
	if err := localnode.Stop(ctx, withCA); err != nil {
		t.Fatal(err)
	}
	if _, err := localnode.Start(ctx, withCA); err != nil {
		t.Fatal(err)
	}
	if _, err := localnode.Start(ctx, withCA); err != nil {
		t.Errorf("Start again with the same settings: %v", err)
	}
}
