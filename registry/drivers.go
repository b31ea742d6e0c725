package registry

import (
	"fmt"

	// The auth and storage backends every polyarch has: distribution
	// registers them by name in init, and a configuration picks them by name.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Storage drivers behind build tags.
//
// Go runs the init of every package linked into the binary, whatever the
// command. The S3 driver links aws-sdk-go, whose endpoint tables alone took
// ~2.4 ms of init of the ~10 ms that `polyarch version` spent in init, on
// every command, so it is linked only with `go build -tags s3` (see
// driver_s3.go). A configuration naming a driver this build lacks gets an
// error that says which tag to build with, not distribution's "not
// registered".

// tagOf maps each driver name left out of a default build to its build tag.
var tagOf = map[string]string{"s3": "s3", "s3aws": "s3"}

// checkDriverLinked refuses a storage driver this binary was built without;
// source names the configuration that asked for it.
func checkDriverLinked(driver, source string) error {
	tag, optional := tagOf[driver]
	if !optional || linkedTags[tag] {
		return nil
	}
	return fmt.Errorf("%s: storage driver %q is not built into this polyarch: build it with -tags %s (go build -tags %s ./cmd/polyarch)", source, driver, tag, tag)
}
