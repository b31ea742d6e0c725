package config

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"
)

// Registry is how polyarch, and the builder nodes it configures, reach one
// registry host: the registries: section, keyed by host[:port].
//
//	registries:
//	  registry.corp.example:5443: {ca: certs/corp-ca.pem}
//	  10.0.0.7:5000: {insecure: true}
//	  docker.io: {mirrors: [mirror.corp.example]}
//
// The same settings hold for polyarch's own requests, for BuildKit's pushes
// and pulls (the local node's buildkitd.toml) and for the images tests pull.
type Registry struct {
	// CA is a PEM file of certificate authorities trusted for this
	// registry besides the system's, relative to polyarch.yaml.
	CA string `yaml:"ca"`
	// Insecure allows plain HTTP and unverified TLS to this registry.
	Insecure bool `yaml:"insecure"`
	// Mirrors (host[:port][/path]) are pulled from before the registry
	// itself, by the local builder node.
	Mirrors []string `yaml:"mirrors"`
}

// validateRegistries checks the registries: section. Its keys are host
// names with dots, which the field paths of At cannot hold, so errors are
// placed at the key's own line.
func (c *Config) validateRegistries() []error {
	var errs []error
	add := func(at, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
	}
	keys := map[string]int{}
	if n := mapValue(c.root, "registries"); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys[n.Content[i].Value] = n.Content[i].Line
		}
	}
	for _, host := range slices.Sorted(maps.Keys(c.Registries)) {
		r := c.Registries[host]
		at := fmt.Sprintf("%s:%d: registries.%q", c.File, keys[host], host)
		if err := checkRegistryHost(host); err != nil {
			add(at, "%v", err)
		}
		if r.CA != "" {
			if r.Insecure {
				add(at+".ca", "give ca or insecure, not both: insecure skips verification, so the CA would never be used")
			} else if err := checkCA(c.Path(r.CA)); err != nil {
				add(at+".ca", "%v", err)
			}
		}
		for j, m := range r.Mirrors {
			h, _, _ := strings.Cut(m, "/")
			if strings.Contains(m, "://") {
				h = ""
			}
			if err := checkRegistryHost(h); err != nil {
				add(fmt.Sprintf("%s.mirrors[%d]", at, j), "mirror %q: want host[:port][/path]: %v", m, err)
			}
		}
	}
	return errs
}

// checkRegistryHost accepts a registry as references name it: host[:port].
func checkRegistryHost(host string) error {
	if host == "" || strings.ContainsAny(host, "/ ") || strings.Contains(host, "://") {
		return fmt.Errorf("%q is not a registry host: want host[:port], without scheme or path", host)
	}
	if _, err := name.NewRegistry(host, name.StrictValidation); err != nil {
		return fmt.Errorf("%q is not a registry host: %v", host, err)
	}
	return nil
}

// checkCA requires a readable PEM file holding at least one certificate.
func checkCA(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("CA file: %v", err)
	}
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("CA file %s: %v", path, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return nil
}
