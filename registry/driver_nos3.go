//go:build !s3

package registry

// linkedTags are the build tags whose storage drivers this binary has.
var linkedTags = map[string]bool{}
