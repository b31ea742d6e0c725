package pipeline

import (
	"os/exec"
	"strings"
)

// GitInfo describes the commit a build context is at, when it is in git.
type GitInfo struct {
	Commit string
	// Tag is an exact tag of the commit, if any.
	Tag    string
	Remote string
	// Time is the commit time (RFC 3339): the image's created annotation,
	// so rebuilding the same commit gives the same manifest.
	Time string
	// Epoch is the commit time in Unix seconds, passed to BuildKit as
	// SOURCE_DATE_EPOCH so that a rebuild of the same commit is the same image.
	Epoch string
}

// ReadGit reads the git state of dir; outside git it is empty.
func ReadGit(dir string) GitInfo {
	run := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	g := GitInfo{Commit: run("rev-parse", "HEAD")}
	if g.Commit == "" {
		return GitInfo{}
	}
	g.Tag = run("describe", "--tags", "--exact-match", "HEAD")
	g.Remote = run("config", "--get", "remote.origin.url")
	g.Time = run("log", "-1", "--format=%cI", "HEAD")
	g.Epoch = run("log", "-1", "--format=%ct", "HEAD")
	return g
}

// Annotations are the OCI annotations set on every image unless the
// config overrides them.
func (g GitInfo) Annotations(version string) map[string]string {
	a := map[string]string{"org.opencontainers.image.version": version}
	if g.Remote != "" {
		a["org.opencontainers.image.source"] = g.Remote
	}
	if g.Commit != "" {
		a["org.opencontainers.image.revision"] = g.Commit
	}
	if g.Time != "" {
		a["org.opencontainers.image.created"] = g.Time
	}
	return a
}
