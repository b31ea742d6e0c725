package ci

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// JenkinsPath is where the Jenkins jobs go, relative to the repository root.
const JenkinsPath = "jenkins/polyarch.yaml"

// DefaultWorkflows are the files `polyarch ci check` audits when given none.
const DefaultWorkflows = ".github/workflows/*.y*ml"

// OutOfDateError is a generated file that differs from what polyarch.yaml
// now generates, or is missing.
type OutOfDateError struct {
	Path    string
	Missing bool
}

func (e *OutOfDateError) Error() string {
	if e.Missing {
		return e.Path + " does not exist"
	}
	return e.Path + " is out of date with polyarch.yaml"
}

// Sync writes b to path unless it already holds exactly b, and reports
// whether it wrote. With check it writes nothing and returns an
// *OutOfDateError when path does not hold b.
func Sync(path string, b []byte, check bool) (wrote bool, err error) {
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, b):
		return false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, err
	case check:
		return false, &OutOfDateError{Path: path, Missing: err != nil}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}

// CheckFiles audits workflow files; with none given, DefaultWorkflows
// below dir. It returns every finding, and an error for a file it cannot
// read or parse (after checking the others).
func CheckFiles(dir string, files []string) ([]Finding, error) {
	if len(files) == 0 {
		matches, err := filepath.Glob(filepath.Join(dir, DefaultWorkflows))
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("no workflow files match %s", filepath.Join(dir, DefaultWorkflows))
		}
		for _, m := range matches {
			rel, err := filepath.Rel(dir, m)
			if err != nil {
				rel = m
			}
			files = append(files, rel)
		}
	}
	var all []Finding
	var errs []error
	for _, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fs, err := Check(f, b)
		if err != nil {
			errs = append(errs, err)
		}
		all = append(all, fs...)
	}
	return all, errors.Join(errs...)
}
