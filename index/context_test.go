package index_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
)

// stallingRegistry answers nothing: every request waits until its client
// gives up. It returns host:port.
func stallingRegistry(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	return strings.TrimPrefix(srv.URL, "http://")
}

// within runs f and fails the test unless it returns in time.
func within(t *testing.T, d time.Duration, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return %s after its context's deadline", what, d)
		return nil
	}
}

// The context argument wins over one the remote options carry: a deadline
// given to each entry point ends it against a registry that never answers,
// although the options were made with context.Background().
func TestTheContextArgumentWins(t *testing.T) {
	stalled := stallingRegistry(t)
	good := testutilRegistry(t)
	pushArch(t, good+"/org/app-ARCH:1", "", "linux/amd64")
	ref := func(s string) name.Reference { return testutil.Ref(t, s) }
	opts := client.Options{}.Remote(context.Background())

	cases := map[string]func(ctx context.Context) error{
		"Publish": func(ctx context.Context) error {
			_, err := index.Publish(ctx, index.Request{Target: ref(stalled + "/org/app:1"), Sources: []index.Source{{Ref: ref(stalled + "/org/app-amd64:1")}}}, opts...)
			return err
		},
		"Publish writing": func(ctx context.Context) error {
			_, err := index.Publish(ctx, index.Request{Target: ref(stalled + "/org/app:1"), Sources: []index.Source{{Ref: ref(good + "/org/app-amd64:1")}}}, opts...)
			return err
		},
		"Copy": func(ctx context.Context) error {
			_, err := index.Copy(ctx, ref(good+"/org/app-amd64:1"), ref(stalled+"/org/app:1"), index.CopyOptions{}, opts...)
			return err
		},
		"Inspect": func(ctx context.Context) error {
			_, err := index.Inspect(ctx, ref(stalled+"/org/app:1"), opts...)
			return err
		},
		"NewResolver": func(ctx context.Context) error {
			_, err := index.NewResolver(ctx, ref(stalled+"/org/app:1"), opts...)
			return err
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := within(t, 10*time.Second, name, func() error { return f(ctx) })
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s past its deadline returned %v, want context.DeadlineExceeded", name, err)
			}
		})
		t.Run(name+" cancelled", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := within(t, 10*time.Second, name, func() error { return f(ctx) })
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context returned %v, want context.Canceled", name, err)
			}
		})
	}
}
