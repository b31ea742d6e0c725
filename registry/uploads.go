package registry

import (
	"fmt"
	"time"

	"github.com/distribution/distribution/v3/configuration"
)

// DefaultUploadAge is how old an unfinished upload gets before it is deleted,
// by `polyarch registry gc` and by a serving registry: a day, long enough for
// any push that is still going, short enough that failed pushes do not pile up.
// (distribution's own default, when its configuration says nothing, is 168h.)
const DefaultUploadAge = 24 * time.Hour

// maxPurgeInterval caps how often distribution's purger looks for old uploads.
const maxPurgeInterval = 24 * time.Hour

// WithUploadPurging makes the serving registry delete unfinished uploads
// started longer ago than age, with distribution's background purger
// (storage.maintenance.uploadpurging). Zero keeps every upload. Without this
// option the configuration file's uploadpurging applies, else DefaultUploadAge.
func WithUploadPurging(age time.Duration) Option {
	return func(o *options) error {
		if age < 0 {
			return fmt.Errorf("upload purging age %s: must not be negative", age)
		}
		o.uploadAge = &age
		return nil
	}
}

// applyUploadPurging sets storage.maintenance.uploadpurging from the option,
// or to DefaultUploadAge when neither the option nor the file says anything.
func (o *options) applyUploadPurging(cfg *configuration.Configuration) {
	m := cfg.Storage["maintenance"]
	if m == nil {
		m = configuration.Parameters{}
	}
	if _, set := m["uploadpurging"]; set && o.uploadAge == nil {
		return
	}
	age := DefaultUploadAge
	if o.uploadAge != nil {
		age = *o.uploadAge
	}
	// The keys and string durations NewApp's startUploadPurger insists on;
	// it reads nothing else when enabled is false.
	purge := map[any]any{"enabled": false}
	if age > 0 {
		purge = map[any]any{"enabled": true, "age": age.String(), "interval": min(age, maxPurgeInterval).String(), "dryrun": false}
	}
	m["uploadpurging"] = purge
	cfg.Storage["maintenance"] = m
}
