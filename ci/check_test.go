package ci

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var wantMarker = regexp.MustCompile(`# want: ([a-z, -]+)$`)

// TestCheckFindsEachMistake runs the audit over testdata/check, one file per
// mistake: each line marked "# want: RULE" must get a finding of that rule
// at that line, and no other line any finding.
func TestCheckFindsEachMistake(t *testing.T) {
	files, _ := filepath.Glob("testdata/check/*.yml")
	if len(files) < 8 {
		t.Fatalf("only %d fixtures", len(files))
	}
	rules := map[Rule]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, line := range strings.Split(string(b), "\n") {
				if m := wantMarker.FindStringSubmatch(line); m != nil {
					for _, r := range strings.Split(m[1], ",") {
						want = append(want, fmt.Sprintf("%s:%d %s", file, i+1, strings.TrimSpace(r)))
					}
				}
			}
			fs, err := Check(file, b)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, fmt.Sprintf("%s:%d %s", f.File, f.Line, f.Rule))
				rules[f.Rule] = true
				if f.Fix == "" || f.Message == "" || f.Column == 0 {
					t.Errorf("finding without message, fix or column: %+v", f)
				}
				if f.Job == "" && !(f.Rule == Permissions && f.Line <= 3) {
					t.Errorf("finding names no job: %s", f)
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("findings\n  %s\nwant\n  %s\nin detail:", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				for _, f := range fs {
					t.Log(f)
				}
			}
		})
	}
	for _, r := range []Rule{SelfHostedUntrusted, PullRequestTargetCheckout, SecretsInPullRequest, Permissions, UnpinnedAction} {
		if !rules[r] {
			t.Errorf("no fixture exercises %s", r)
		}
	}
}

func TestCheckFindingText(t *testing.T) {
	b, _ := os.ReadFile("testdata/check/self-hosted-comment.yml")
	fs, err := Check("wf.yml", b)
	if err != nil || len(fs) != 1 {
		t.Fatalf("findings %v, error %v", fs, err)
	}
	want := "wf.yml:9:7: job benchmark: runs on a self-hosted runner (group arm-runners) and can be started by issue_comment: code from anyone's pull request or comment could run on it [self-hosted-untrusted]\n  fix: run it only on trusted events"
	if got := fs[0].String(); !strings.HasPrefix(got, want) {
		t.Errorf("finding reads\n%s\nwant it to start\n%s", got, want)
	}
}

func TestCheckRefusesWhatIsNoWorkflow(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"not YAML", "on: [push\n", "wf.yml: line 1:"},
		{"a list", "- a\n- b\n", "wf.yml:1: a workflow is a mapping"},
		{"empty", "", "wf.yml: empty workflow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check("wf.yml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// FuzzCheck: whatever the bytes, Check returns; findings point into the file.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/check/*.yml")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte("on: &a [pull_request]\njobs: {x: {runs-on: *a, if: '((', needs: [x]}}"))
	f.Add([]byte("on: pull_request\njobs:\n  a: &j {needs: b, runs-on: self-hosted}\n  b: {needs: a, runs-on: self-hosted}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := Check("wf.yml", b)
		if err != nil {
			return
		}
		lines := strings.Count(string(b), "\n") + 1
		for _, fd := range fs {
			if fd.Line < 1 || fd.Line > lines {
				t.Errorf("finding at line %d of a %d-line file: %s", fd.Line, lines, fd)
			}
		}
	})
}
