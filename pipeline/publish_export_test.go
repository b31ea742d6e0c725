package pipeline

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
)

// WriteTestRecordAbout forges a record: rec pushed as a referrer of subject.
func WriteTestRecordAbout(ctx context.Context, repo name.Repository, subject string, rec *TestRecord) error {
	return writeTestRecord(ctx, repo, subject, rec, nil, nil)
}
