package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/docker/cli/cli/config"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	bk "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/progress/progressui"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/polyarch/polyarch/platform"
)

// Process is one command to run in a container.
type Process struct {
	Args []string
	Env  []string
	Cwd  string
	User string
	// Stdout and Stderr receive the process's output as it comes.
	Stdout, Stderr io.Writer
}

// RunFunc runs one process in the container and returns its exit code.
type RunFunc func(ctx context.Context, p Process) (exitCode int, err error)

// Exec starts one container from image ref (pulled by the node, for
// platform p; natively or under QEMU) and calls fn with a RunFunc that runs
// processes in it. BuildKit's progress (pulling the image) goes to log.
// This is how polyarch tests images and runs commands in them: the same
// machinery, and the same node, as the build of that platform.
func (n *Node) Exec(ctx context.Context, ref string, p v1.Platform, log io.Writer, fn func(run RunFunc) error) error {
	if n.Emulates && !n.Native(p) {
		if err := CheckEmulation(p); err != nil {
			return err
		}
	}
	c, err := n.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	np := platform.Normalize(p)
	spec := specs.Platform{OS: np.OS, Architecture: np.Architecture, Variant: np.Variant}
	pbPlatform := &pb.Platform{OS: np.OS, Architecture: np.Architecture, Variant: np.Variant}
	buildFunc := func(ctx context.Context, gw gateway.Client) (*gateway.Result, error) {
		def, err := llb.Image(ref, llb.Platform(spec)).Marshal(ctx, llb.Platform(spec))
		if err != nil {
			return nil, err
		}
		res, err := gw.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, fmt.Errorf("pulling %s: %w", ref, err)
		}
		root, err := res.SingleRef()
		if err != nil {
			return nil, err
		}
		// One container per process: the first process of a gateway
		// container is its init, and the container ends with it.
		run := func(ctx context.Context, proc Process) (int, error) {
			ctr, err := gw.NewContainer(ctx, gateway.NewContainerRequest{
				Mounts:   []gateway.Mount{{Dest: "/", MountType: pb.MountType_BIND, Ref: root}},
				Platform: pbPlatform,
			})
			if err != nil {
				return -1, fmt.Errorf("starting a %s container of %s: %w", platform.Format(p), ref, err)
			}
			defer ctr.Release(context.WithoutCancel(ctx))
			stdout, stderr := nopWriteCloser{orDiscard(proc.Stdout)}, nopWriteCloser{orDiscard(proc.Stderr)}
			cwd := proc.Cwd
			if cwd == "" {
				cwd = "/"
			}
			pr, err := ctr.Start(ctx, gateway.StartRequest{Args: proc.Args, Env: proc.Env, Cwd: cwd, User: proc.User, Stdout: stdout, Stderr: stderr})
			if err != nil {
				return -1, fmt.Errorf("starting %q: %w", proc.Args, err)
			}
			err = pr.Wait()
			var ee *gwpb.ExitError
			if errors.As(err, &ee) {
				return int(ee.ExitCode), nil
			}
			if err != nil {
				return -1, fmt.Errorf("running %q: %w", proc.Args, err)
			}
			return 0, nil
		}
		if err := fn(run); err != nil {
			return nil, err
		}
		return gateway.NewResult(), nil
	}

	opt := bk.SolveOpt{Session: []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(config.LoadDefaultConfigFile(io.Discard)),
	})}}
	ch := make(chan *bk.SolveStatus)
	display, err := progressui.NewDisplay(orDiscard(log), progressui.PlainMode)
	if err != nil {
		return err
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		_, err := c.Build(ectx, opt, "polyarch", buildFunc, ch)
		return err
	})
	eg.Go(func() error {
		_, err := display.UpdateFrom(context.WithoutCancel(ectx), ch)
		return err
	})
	if err := eg.Wait(); err != nil {
		return cleanSolveError(err)
	}
	return nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
