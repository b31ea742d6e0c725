package registry

import "github.com/distribution/distribution/v3/configuration"

// Defaults of distribution v3.1.2 that live in its YAML parser.
//
// A registry started from flags builds its configuration.Configuration in Go
// and never goes through configuration.Parse, so whatever Parse fills in must
// be filled in here, or the zero value is what distribution sees. A zero
// Catalog.MaxEntries, for one, makes /v2/_catalog list nothing and refuse any
// ?n= as PAGINATION_NUMBER_INVALID.
//
// What the rest of the configuration does when left zero, checked against
// v3.1.2 (registry/handlers/app.go, NewApp), so that a zero value here means
// the same thing as an absent YAML key:
//
//   - storage.delete: absent means disabled; polyarch enables it (see
//     options.configuration).
//   - storage.redirect: absent means redirects enabled; only drivers that can
//     sign URLs (s3) redirect, the filesystem driver never does.
//   - storage.cache: absent means no blob descriptor cache, in YAML too (the
//     inmemory cache is only in the example config).
//   - storage.maintenance.uploadpurging: absent means NewApp's
//     uploadPurgeDefaultConfig (enabled, age 168h, every 24h); polyarch sets
//     it to DefaultUploadAge or WithUploadPurging's age (see uploads.go).
//   - storage.tag.concurrencylimit: absent means the storage package's
//     default (GOMAXPROCS).
//   - validation: NewApp sets Enabled = !Disabled, the same for both.
//   - auth: absent means no auth, the same for both.
//   - http.secret: absent makes NewApp invent one and warn; polyarch invents
//     one without the warning.
//   - log: read by distribution's own server (registry.NewRegistry), not by
//     NewApp; polyarch configures logrus itself (ConfigureLogging).
func applyParseDefaults(cfg *configuration.Configuration) {
	// configuration.Parse: "if v0_1.Log.Level == "" ... = Loglevel("info")".
	if cfg.Log.Level == "" {
		cfg.Log.Level = "info"
	}
	// configuration.Parse: defaultMaxEntries = 1000 when maxentries <= 0.
	if cfg.Catalog.MaxEntries <= 0 {
		cfg.Catalog.MaxEntries = 1000
	}
	// configuration.Parse: defaultMaxTags = 1000 when maxtags is 0.
	if cfg.Tags.MaxTags <= 0 {
		cfg.Tags.MaxTags = 1000
	}
	// Not a Parse default but in every config distribution ships
	// (cmd/registry/config-example.yml, the one in the registry image): a
	// browser must not sniff a blob into HTML.
	if cfg.HTTP.Headers == nil {
		cfg.HTTP.Headers = map[string][]string{"X-Content-Type-Options": {"nosniff"}}
	}
}
