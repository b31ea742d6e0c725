package index

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// InterleaveError is returned by Publish when, once it had written the
// index and its tags, some tag named another index: another publisher
// wrote to the same tags in between, and registries have no compare-and-
// swap to prevent it. The tags are left as they were found; publishing
// again (after the other publisher is done) makes them agree.
type InterleaveError struct {
	// Digest is the index this publish wrote.
	Digest string
	// Tags are every tag of the publish, with the digest each named when
	// read back ("" where it named nothing).
	Tags []TagDigest
}

// TagDigest is a tag and the digest it names.
type TagDigest struct {
	Tag    string `json:"tag"`
	Digest string `json:"digest"`
}

func (e *InterleaveError) Error() string {
	var parts []string
	for _, t := range e.Tags {
		d := t.Digest
		switch d {
		case "":
			d = "nothing"
		case e.Digest:
			d += " (this publish)"
		}
		parts = append(parts, t.Tag+" names "+d)
	}
	return fmt.Sprintf("another publisher wrote these tags while %s was being published, and they disagree: %s; publish again once the other is done",
		e.Digest, strings.Join(parts, ", "))
}

// checkTags reads every tag back and returns an *InterleaveError unless all
// name digest.
func checkTags(tags []name.Reference, digest string, opts []remote.Option) error {
	now, err := currentDigests(tags, opts)
	if err != nil {
		return fmt.Errorf("reading back the tags written: %w", err)
	}
	e := &InterleaveError{Digest: digest}
	agree := true
	for i, t := range tags {
		e.Tags = append(e.Tags, TagDigest{Tag: t.String(), Digest: now[i]})
		agree = agree && now[i] == digest
	}
	if agree {
		return nil
	}
	return e
}
