package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// source is one arch-named image of the publish scenario.
type source struct {
	ref      string // e.g. 127.0.0.1:PORT/org/agent-arm:v1
	platform string // e.g. linux/arm/v7
}

// tool is a command-line client under test: polyarch or a peer. Each
// returns the commands a user would run, in order; the turn's time is from
// the start of the first to the end of the last.
type tool struct {
	name    string
	version string
	// publish puts an index of sources at target; template names the
	// sources with {{.Arch}} (polyarch's form).
	publish func(sources []source, template, target string, registries []string) [][]string
	// copy copies src to dst with every platform, digest kept.
	copy func(src, dst string, registries []string) [][]string
}

func polyarchTool(bin string) tool {
	return tool{
		name: "polyarch",
		publish: func(sources []source, template, target string, _ []string) [][]string {
			var ps []string
			for _, s := range sources {
				ps = append(ps, s.platform)
			}
			return [][]string{{bin, "manifest", "push", "from-args", "--platforms", strings.Join(ps, ","),
				"--template", template, "--target", target, "--json"}}
		},
		copy: func(src, dst string, _ []string) [][]string {
			return [][]string{{bin, "copy", src, dst}}
		},
	}
}

func craneTool(bin string) tool {
	return tool{
		name: "crane",
		publish: func(sources []source, _, target string, _ []string) [][]string {
			args := []string{bin, "index", "append"}
			for _, s := range sources {
				args = append(args, "-m", s.ref)
			}
			return [][]string{append(args, "-t", target)}
		},
		copy: func(src, dst string, _ []string) [][]string {
			return [][]string{{bin, "copy", src, dst}}
		},
	}
}

// regctlTool: regctl speaks TLS unless told otherwise per registry.
func regctlTool(bin string) tool {
	hosts := func(registries []string) []string {
		var args []string
		for _, r := range registries {
			args = append(args, "--host", "reg="+r+",tls=disabled")
		}
		return args
	}
	return tool{
		name: "regctl",
		publish: func(sources []source, _, target string, registries []string) [][]string {
			args := append(append([]string{bin}, hosts(registries)...), "index", "create", target)
			for _, s := range sources {
				args = append(args, "--ref", s.ref)
			}
			return [][]string{args}
		},
		copy: func(src, dst string, registries []string) [][]string {
			return [][]string{append(append([]string{bin}, hosts(registries)...), "image", "copy", src, dst)}
		},
	}
}

// dockerTool is Docker's CLI alone (no engine): `docker manifest create`
// reads each image and keeps the list in $DOCKER_CONFIG/manifests, `push
// --purge` pushes it and forgets it, so the next turn starts clean.
func dockerTool(bin string) tool {
	return tool{
		name: "docker",
		publish: func(sources []source, _, target string, _ []string) [][]string {
			create := []string{bin, "manifest", "create", "--insecure", target}
			for _, s := range sources {
				create = append(create, s.ref)
			}
			return [][]string{create, {bin, "manifest", "push", "--insecure", "--purge", target}}
		},
	}
}

// runner runs tools with one private environment: an empty Docker config
// (no credential helper, nothing from the user's login) and a HOME of its
// own (regctl keeps its config there).
type runner struct {
	env []string
}

func newRunner(work string) (*runner, error) {
	dockerConfig, home := filepath.Join(work, "docker-config"), filepath.Join(work, "home")
	for _, d := range []string{dockerConfig, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	env := []string{"DOCKER_CONFIG=" + dockerConfig, "HOME=" + home}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_CONFIG=") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "DOCKER_HOST=") {
			env = append(env, kv)
		}
	}
	return &runner{env: env}, nil
}

// timing is one turn of one tool.
type timing struct {
	wall time.Duration // first command's start to last command's end
	cpu  time.Duration // user+system of every command
	out  string        // the last command's standard output
}

// run runs cmds in order and times them together.
func (r *runner) run(ctx context.Context, cmds [][]string) (timing, error) {
	var t timing
	start := time.Now()
	for _, args := range cmds {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr = r.env, &stdout, &stderr
		cmd.SysProcAttr = harness.ChildProcAttr()
		err := cmd.Run()
		if cmd.ProcessState != nil {
			t.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		if err != nil {
			msg := stderr.Bytes()
			if len(msg) > 2000 {
				msg = msg[len(msg)-2000:]
			}
			return t, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, bytes.TrimSpace(msg))
		}
		t.out = stdout.String()
	}
	t.wall = time.Since(start)
	return t, nil
}

// version asks a tool for its version and keeps the first line.
func (r *runner) version(ctx context.Context, args ...string) string {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}
