package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/platform"
)

// remoteFlags are the registry-access flags of every command that talks to
// registries, declared here only.
type remoteFlags struct {
	insecure bool
	jobs     int
}

func (f *remoteFlags) register(cmd *cobra.Command) {
	f.jobs = client.DefaultJobs
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plain HTTP and unverified TLS to non-loopback registries (loopback ones always speak plain HTTP)")
	cmd.Flags().Var((*jobsValue)(&f.jobs), "jobs", "blobs transferred, and manifests read, at once (at least 1)")
}

// jobsValue is --jobs: a whole number of at least 1, checked as it is parsed
// (a usage error, exit 2, naming the flag and the value).
type jobsValue int

func (j *jobsValue) String() string { return strconv.Itoa(int(*j)) }
func (j *jobsValue) Type() string   { return "int" }

func (j *jobsValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want a whole number")
	}
	if n < 1 {
		return fmt.Errorf("want at least 1")
	}
	*j = jobsValue(n)
	return nil
}

func (f *remoteFlags) client() client.Options {
	return client.Options{Insecure: f.insecure, Jobs: f.jobs}
}

// parseRef parses a reference given on the command line (a usage error if bad).
func (f *remoteFlags) parseRef(what, s string) (name.Reference, error) {
	r, err := f.client().Parse(s)
	if err != nil {
		return nil, usagef("%s: %v", what, err)
	}
	return r, nil
}

// progress returns a progress line for the library to drive on a terminal
// (verb: 3.2 MiB / 5.0 MiB), cleared when the library says Done; nil
// elsewhere.
func progress(g *globals, verb string) index.Progress {
	file, ok := g.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return nil
	}
	return progressLine(file, verb)
}

// progressLine draws updates on w, at most ten times a second.
func progressLine(w io.Writer, verb string) index.Progress {
	shown := false
	var last time.Time
	return func(u index.Update) {
		if u.Done {
			if shown {
				fmt.Fprint(w, "\r\033[K")
			}
			return
		}
		if u.Total == 0 || time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\r%s: %s / %s   ", verb, mib(u.Complete), mib(u.Total))
		shown = true
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// parsePlatforms parses a --platform list (a usage error if bad).
func parsePlatforms(flag, s string) ([]v1.Platform, error) {
	if s == "" {
		return nil, nil
	}
	ps, err := platform.ParseList(s)
	if err != nil {
		return nil, usagef("--%s: %v", flag, err)
	}
	return ps, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
