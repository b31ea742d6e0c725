package verify

import (
	"fmt"
	"path"
	"strings"
)

// pattern is a compiled WithIgnore glob: its segments, "**" among them.
type pattern struct {
	glob     string
	segments []string
}

func compilePattern(glob string) (pattern, error) {
	clean := strings.TrimPrefix(path.Clean("/"+strings.TrimSpace(glob)), "/")
	if clean == "" {
		return pattern{}, fmt.Errorf("ignore glob %q: matches no path (it names the image root)", glob)
	}
	segs := strings.Split(clean, "/")
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if _, err := path.Match(s, ""); err != nil {
			return pattern{}, fmt.Errorf("ignore glob %q: %w", glob, err)
		}
	}
	return pattern{glob: glob, segments: segs}, nil
}

// matchAny reports whether name (clean, relative) is, or is beneath, a path
// one of the patterns matches.
func matchAny(patterns []pattern, name string) bool {
	if len(patterns) == 0 {
		return false
	}
	segs := strings.Split(name, "/")
	for _, p := range patterns {
		if matchSegments(p.segments, segs) {
			return true
		}
	}
	return false
}

func matchSegments(pat, name []string) bool {
	if len(pat) == 0 {
		return true // the pattern matched name or one of its directories
	}
	if pat[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchSegments(pat[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	if ok, _ := path.Match(pat[0], name[0]); !ok {
		return false
	}
	return matchSegments(pat[1:], name[1:])
}
