// Package lint finds what makes multi-arch builds slow or wrong before they
// run. Its first check: a Dockerfile stage that compiles under QEMU
// emulation. An emulated compiler is commonly 3-10x slower than a native
// one; a stage that starts FROM --platform=$BUILDPLATFORM runs natively and
// cross-compiles for $TARGETOS/$TARGETARCH instead.
package lint

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/polyarch/polyarch/platform"
)

// Finding is one lint warning, at a Dockerfile line.
type Finding struct {
	File    string
	Line    int
	Stage   string
	Message string
}

func (f Finding) String() string { return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Message) }

// compilers are RUN commands that compile: emulating them is what costs.
var compilers = regexp.MustCompile(`(^|[\s;&|(])(go (build|install|test)|gcc|g\+\+|clang(\+\+)?|cc|c\+\+|make|cmake|ninja|cargo (build|install)|rustc|javac|mvn|gradle|\./gradlew|npm (ci|install|run build)|yarn (install|build)|pip3? install|python3? setup\.py|dotnet (build|publish)|bazel (build|test))($|[\s;&|)])`)

// EmulatedCompiles reports each stage of dockerfile that compiles and would
// run under emulation for some of the emulated platforms: stages whose FROM
// has no --platform=$BUILDPLATFORM (or another fixed platform).
func EmulatedCompiles(dockerfile string, emulated []v1.Platform) ([]Finding, error) {
	if len(emulated) == 0 {
		return nil, nil
	}
	f, err := os.Open(dockerfile)
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfile, err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfile, err)
	}
	var names []string
	for _, p := range emulated {
		names = append(names, platform.Format(p))
	}
	var out []Finding
	for i, st := range stages {
		if st.Platform != "" {
			continue // pinned: $BUILDPLATFORM, or a fixed platform
		}
		for _, c := range st.Commands {
			run, ok := c.(*instructions.RunCommand)
			if !ok {
				continue
			}
			m := compilers.FindStringSubmatch(strings.Join(run.CmdLine, " "))
			if m == nil {
				continue
			}
			name := st.Name
			if name == "" {
				name = fmt.Sprint(i)
			}
			line := 0
			if loc := run.Location(); len(loc) > 0 {
				line = loc[0].Start.Line
			}
			out = append(out, Finding{
				File: dockerfile, Line: line, Stage: name,
				Message: fmt.Sprintf("stage %s runs %q under QEMU emulation for %s; emulated builds are commonly 3-10x slower: start the stage FROM --platform=$BUILDPLATFORM and cross-compile for $TARGETOS/$TARGETARCH, then COPY --from it",
					name, strings.TrimSpace(m[2]), strings.Join(names, ", ")),
			})
			break // one finding per stage is enough to act on
		}
	}
	return out, nil
}
