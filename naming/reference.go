package naming

import (
	"errors"
	"fmt"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// CheckTag parses a tagged reference that a template rendered and checks it
// as the registry will: go-containerregistry parses some that the
// distribution grammar (what registries enforce) refuses, such as the tag
// -bad or the repository org/agent-, and those would fail only at the push.
func CheckTag(ref string) (name.Tag, error) {
	if ref == "" {
		return name.Tag{}, errors.New("empty reference")
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, err
	}
	repo := tag.Repository.Name()
	named, err := reference.WithName(repo)
	if err != nil {
		if errors.Is(err, reference.ErrNameTooLong) {
			return name.Tag{}, fmt.Errorf("repository %q: %w", repo, err)
		}
		return name.Tag{}, fmt.Errorf("repository %q: each path component is lowercase letters and digits, separated by '.', '_', '__' or '-' (not at either end)", repo)
	}
	if _, err := reference.WithTag(named, tag.TagStr()); err != nil {
		return name.Tag{}, fmt.Errorf("tag %q: a tag is at most 128 letters, digits, '_', '.' and '-', and does not start with '.' or '-'", tag.TagStr())
	}
	return tag, nil
}
