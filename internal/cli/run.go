package cli

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/platform"
)

// exitCodeError makes polyarch exit with a command's own status, silently.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRunCmd(g *globals) *cobra.Command {
	var (
		rf      remoteFlags
		nf      nodeFlags
		plat    string
		env     []string
		workdir string
		user    string
		mounts  []string
		stdin   bool
		tty     bool
	)
	cmd := &cobra.Command{
		Use:   "run --platform P REF [-- CMD ARGS...]",
		Short: "Run a command in the image of one platform, natively or under QEMU, and stream its output",
		Long: `Run a command in the image REF resolves to for --platform (what 'podman run
--arch' does), on the builder node that serves that platform: natively, or
under QEMU emulation on the local node. The command's output is streamed and
its exit status is polyarch's. Without a command, the image's own entrypoint
and cmd run.

-i keeps standard input open for the command; -t runs it on a terminal (raw
mode here, the window size followed, Ctrl-C typed to the command itself):
-it is an interactive shell in that platform's image. --mount SRC:DST[:ro]
mounts a directory of this machine (the command's writes to it are kept in
the container only, and end with it).`,
		Example: `  polyarch run --platform linux/s390x 127.0.0.1:5000/base/busybox -- uname -m
  polyarch run --platform linux/arm/v7 reg/org/agent:v1.4 -- /agent --version
  polyarch run --platform linux/arm64 -it --mount .:/src -w /src reg/maistra/maistra-builder:2.4 -- sh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usagef("run needs an image reference")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if plat == "" {
				return usagef("--platform is required")
			}
			p, err := platform.Parse(plat)
			if err != nil {
				return usagef("--platform: %v", err)
			}
			ms, err := parseMounts(mounts)
			if err != nil {
				return err
			}
			fd := int(os.Stdin.Fd())
			if tty && !term.IsTerminal(fd) {
				return usagef("-t needs a terminal on standard input (use -i alone to pipe input)")
			}
			ref, err := rf.parseRef("REF", args[0])
			if err != nil {
				return err
			}
			opts := rf.client().Remote(cmd.Context())
			target, err := imagetest.ResolveImage(cmd.Context(), ref, p, opts...)
			if err != nil {
				return err
			}
			node, err := nf.nodeFor(cmd.Context(), p)
			if err != nil {
				return err
			}
			proc := target.Process(args[1:], env, workdir, user)
			proc.Stdout, proc.Stderr = g.stdout, g.stderr
			if stdin || tty {
				proc.Stdin = os.Stdin
			}
			if tty {
				restore, resize, err := rawTerminal(fd)
				if err != nil {
					return err
				}
				defer restore()
				proc.Tty, proc.Resize = true, resize
				proc.Env = append(proc.Env, "TERM="+termName())
			}
			var code int
			log := discardUnlessDebug(g)
			err = node.Exec(cmd.Context(), target.Ref, target.Platform, buildkit.ExecOptions{Log: log, Mounts: ms}, func(run buildkit.RunFunc) error {
				var err error
				code, err = run(cmd.Context(), proc)
				return err
			})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCodeError{code}
			}
			return nil
		},
	}
	rf.register(cmd)
	nf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&plat, "platform", "", "platform whose image to run, e.g. linux/arm64")
	f.StringArrayVarP(&env, "env", "e", nil, "KEY=VALUE added to the image's environment (repeatable)")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory (default the image's)")
	f.StringVarP(&user, "user", "u", "", "user (default the image's)")
	f.StringArrayVar(&mounts, "mount", nil, "SRC:DST[:ro]: mount directory SRC of this machine at DST (repeatable)")
	f.BoolVarP(&stdin, "interactive", "i", false, "keep standard input open for the command")
	f.BoolVarP(&tty, "tty", "t", false, "run the command on a terminal (with -i: an interactive shell)")
	return cmd
}

// parseMounts reads --mount SRC:DST[:ro]; SRC must be a directory.
func parseMounts(specs []string) ([]buildkit.Mount, error) {
	var out []buildkit.Mount
	for _, s := range specs {
		src, dst, ok := strings.Cut(s, ":")
		m := buildkit.Mount{Source: src, Dest: dst}
		if d, opt, found := strings.Cut(dst, ":"); found {
			if opt != "ro" {
				return nil, usagef("--mount %s: the option after DST can only be ro", s)
			}
			m.Dest, m.Readonly = d, true
		}
		if !ok || src == "" || !strings.HasPrefix(m.Dest, "/") {
			return nil, usagef("--mount %s: want SRC:DST[:ro], DST an absolute path in the container", s)
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, usagef("--mount %s: %s is not a directory", s, abs)
		}
		m.Source = abs
		out = append(out, m)
	}
	return out, nil
}

// rawTerminal puts the terminal fd in raw mode, so that keys (Ctrl-C
// too) go to the command's terminal, and follows its size: the channel
// gets the size now and at every SIGWINCH. restore undoes both.
func rawTerminal(fd int) (restore func(), sizes <-chan buildkit.WinSize, err error) {
	state, err := term.MakeRaw(fd)
	if err != nil {
		return nil, nil, fmt.Errorf("putting the terminal in raw mode: %w", err)
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	ch := make(chan buildkit.WinSize, 1)
	done := make(chan struct{})
	send := func() {
		if w, h, err := term.GetSize(fd); err == nil {
			select {
			case <-ch: // a size not yet sent gives way to this one
			default:
			}
			ch <- buildkit.WinSize{Rows: uint32(h), Cols: uint32(w)}
		}
	}
	send()
	go func() {
		for {
			select {
			case <-done:
				return
			case <-winch:
				send()
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
		term.Restore(fd, state)
	}, ch, nil
}

// termName is the TERM the command's terminal claims: this one's, else xterm.
func termName() string {
	if t := os.Getenv("TERM"); t != "" {
		return t
	}
	return "xterm"
}
