//go:build s3

package registry

import _ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"

// linkedTags are the build tags whose storage drivers this binary has.
var linkedTags = map[string]bool{"s3": true}
