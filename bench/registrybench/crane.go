package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// client runs crane, the client both servers are measured with.
type client struct {
	bin     string
	env     []string
	version string
}

// newClient checks the crane binary and gives it an empty Docker config, so
// no credential helper runs and nothing from the user's login is sent.
func newClient(ctx context.Context, bin, dockerConfig string) (*client, error) {
	if err := os.MkdirAll(dockerConfig, 0o755); err != nil {
		return nil, err
	}
	c := &client{bin: bin, env: append(os.Environ(), "DOCKER_CONFIG="+dockerConfig)}
	out, err := c.run(ctx, "version")
	if err != nil {
		return nil, err
	}
	c.version = strings.TrimSpace(out)
	return c, nil
}

// push times `crane push LAYOUT REF`: every blob, the platform manifests and
// the index, uploaded with crane's default parallelism. crane prints the
// pushed digest, which must be the layout's.
func (c *client) push(ctx context.Context, layout, ref, digest string) (time.Duration, error) {
	start := time.Now()
	out, err := c.run(ctx, "push", layout, ref)
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if got := strings.TrimSpace(out); !strings.HasSuffix(got, "@"+digest) {
		return 0, fmt.Errorf("crane push %s: pushed %q, want digest %s", ref, got, digest)
	}
	return d, nil
}

// pull times `crane pull --format oci REF DIR`, which fetches the whole index
// (every platform) into a fresh layout, then checks that the layout holds as
// many bytes as were pushed and deletes it.
func (c *client) pull(ctx context.Context, ref, dir string, wantBytes int64) (time.Duration, error) {
	defer os.RemoveAll(dir)
	start := time.Now()
	if _, err := c.run(ctx, "pull", "--format", "oci", ref, dir); err != nil {
		return 0, err
	}
	d := time.Since(start)
	got, _, err := blobTotal(dir)
	if err != nil {
		return 0, err
	}
	if got != wantBytes {
		return 0, fmt.Errorf("crane pull %s: %d bytes of blobs, want %d", ref, got, wantBytes)
	}
	return d, nil
}

// run returns crane's standard output; on failure the error carries the end
// of its standard error.
func (c *client) run(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := stderr.Bytes()
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return "", fmt.Errorf("crane %s: %w\n%s", strings.Join(args, " "), err, bytes.TrimSpace(msg))
	}
	return stdout.String(), nil
}
