// Command plainregistry serves distribution v3 exactly as distribution ships
// it: handlers.NewApp over the filesystem driver with deletes enabled, and no
// polyarch layers (no referrers API, no request log). It is the baseline that
// bench/registry.sh compares polyarch's embedded registry against.
//
//	plainregistry -addr 127.0.0.1:5001 -root /tmp/plain
//
// It stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/sirupsen/logrus"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5001", "loopback host:port to listen on")
	root := flag.String("root", "", "data directory for the filesystem driver (required)")
	flag.Parse()
	if err := run(*addr, *root); err != nil {
		fmt.Fprintln(os.Stderr, "plainregistry:", err)
		os.Exit(1)
	}
}

func run(addr, root string) error {
	if root == "" {
		return errors.New("-root is required")
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %s: only loopback addresses are served", addr)
	}
	// distribution logs every request at info level; polyarch's CLI keeps
	// logrus at warn too, so neither side pays for logging the other skips.
	logrus.SetLevel(logrus.WarnLevel)

	// Upload state is HMAC-signed; without a secret distribution makes one up
	// and warns about it.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	cfg := &configuration.Configuration{Version: "0.1"}
	cfg.Storage = configuration.Storage{
		"filesystem": configuration.Parameters{"rootdirectory": root},
		"delete":     configuration.Parameters{"enabled": true},
	}
	cfg.HTTP.Secret = hex.EncodeToString(secret)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := handlers.NewApp(ctx, cfg)
	defer app.Shutdown()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
