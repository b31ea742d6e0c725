package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Kind says what a Finding is about. The values are stable: scripts may
// match on them in --json output.
type Kind string

const (
	// KindELF: a binary inside a layer is for another CPU than the platform's.
	KindELF Kind = "elf-architecture"
	// KindELFVariant: a binary is for the platform's CPU but needs a later
	// revision of it than the platform's variant promises: ARMv7 code in
	// arm/v6 (its .ARM.attributes say so), x86-64-v3 code in amd64 (its
	// .note.gnu.property says so). Hosts of the label crash on it with an
	// illegal instruction.
	KindELFVariant Kind = "elf-variant"
	// KindMismatch: the image config's OS or architecture (or variant, when
	// the config has one) differs from the index descriptor's, after
	// normalisation.
	KindMismatch Kind = "platform-mismatch"
	// KindSpelling: a platform is spelled in a way containerd normalises
	// (aarch64, x86_64, armhf...). It resolves, but tools that compare
	// strings do not match it. arm64/v8 is not reported: the OCI image-index
	// specification lists it.
	KindSpelling Kind = "non-normalized-platform"
	// KindArmVariant: an arm platform without a variant; containerd reads it
	// as v7, so a v6 host will not pull it and a v7 label may be wrong.
	KindArmVariant Kind = "arm-without-variant"
	// KindUnknownPlatform: an OS or architecture no Go port has, or no
	// platform at all on an index entry.
	KindUnknownPlatform Kind = "unknown-platform"
	// KindDuplicate: two index entries name the same platform after
	// normalisation; a host pulls the first and never sees the other.
	KindDuplicate Kind = "duplicate-platform"
	// KindMissingChild: an index entry's manifest is not in the index's
	// repository, so pulling that platform fails.
	KindMissingChild Kind = "missing-child"
)

// A Finding is one label that is not true.
type Finding struct {
	Kind Kind
	// Platform is the child's platform as its index descriptor spells it (as
	// its config does for a single image).
	Platform string
	// Manifest is the child's manifest digest; zero from ScanLayer.
	Manifest v1.Hash
	// Layer is the layer's digest, for KindELF and KindELFVariant; zero
	// from ScanLayer.
	Layer v1.Hash
	// Path is the file inside the layer, for KindELF and KindELFVariant.
	Path string
	// Needs is the variant a KindELFVariant binary needs: "v7", "v3".
	Needs string
	// Message says what is wrong: "ELF 64-bit LSB x86-64, expected aarch64",
	// "needs ARMv7-A (Tag_CPU_arch v7); the label promises ARMv6".
	Message string
}

// String is the finding on one line, as the text report prints it.
func (f Finding) String() string {
	s := f.Platform
	if s == "" {
		s = "(no platform)"
	}
	s += " " + string(f.Kind) + ": "
	if f.Path != "" {
		s += f.Path + ": "
	}
	s += f.Message
	if f.Manifest != (v1.Hash{}) {
		s += " (manifest " + f.Manifest.String()
		if f.Layer != (v1.Hash{}) {
			s += ", layer " + f.Layer.String()
		}
		s += ")"
	}
	return s
}

// MarshalJSON leaves out the digests and path a finding does not have.
func (f Finding) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind     Kind   `json:"kind"`
		Platform string `json:"platform"`
		Manifest string `json:"manifest,omitempty"`
		Layer    string `json:"layer,omitempty"`
		Path     string `json:"path,omitempty"`
		Needs    string `json:"needs,omitempty"`
		Message  string `json:"message"`
	}{f.Kind, f.Platform, hashString(f.Manifest), hashString(f.Layer), f.Path, f.Needs, f.Message})
}

func hashString(h v1.Hash) string {
	if h == (v1.Hash{}) {
		return ""
	}
	return h.String()
}

// A Child is one platform's image: an index entry, or the image itself when
// the reference is a single image.
type Child struct {
	// Platform as the index descriptor spells it; for a single image, as its
	// config does.
	Platform string `json:"platform"`
	// ConfigPlatform is the image config's os/architecture[/variant];
	// empty when the manifest is missing.
	ConfigPlatform string          `json:"configPlatform,omitempty"`
	Digest         v1.Hash         `json:"digest"`
	MediaType      types.MediaType `json:"mediaType"`
	// Layers is how many layers were scanned. A layer shared with another
	// child is downloaded once but counted for each.
	Layers int `json:"layers"`
	// LayersSkipped counts layers not scanned: foreign (non-distributable)
	// layers and blobs that are not filesystem tars.
	LayersSkipped int `json:"layersSkipped,omitempty"`
	// Files counts regular files in the scanned layers.
	Files int `json:"files"`
	// ELFFiles counts the ELF binaries among them, ignored paths excluded.
	ELFFiles int `json:"elfFiles"`
	// Ignored counts regular files skipped by WithIgnore.
	Ignored  int       `json:"ignored,omitempty"`
	Findings []Finding `json:"findings"`
}

// Summary totals a report over its children.
type Summary struct {
	Platforms int `json:"platforms"`
	Layers    int `json:"layers"`
	ELFFiles  int `json:"elfFiles"`
	Findings  int `json:"findings"`
}

// Report is what Verify found about one reference.
type Report struct {
	// Reference is what was asked for, as given.
	Reference string `json:"reference"`
	// Digest and MediaType are the reference's manifest: an index or an image.
	Digest    v1.Hash         `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	// Children are the platforms verified, in index order.
	Children []Child `json:"children"`
	// Attestations counts index entries skipped as attestation manifests
	// (platform unknown/unknown, or vnd.docker.reference.type
	// attestation-manifest).
	Attestations int     `json:"attestations,omitempty"`
	Summary      Summary `json:"summary"`
}

// Findings returns every child's findings, in order.
func (r *Report) Findings() []Finding {
	var out []Finding
	for _, c := range r.Children {
		out = append(out, c.Findings...)
	}
	return out
}

// ErrFindings is what Report.Err wraps: the reference was verified and some
// label is not true. Test for it with errors.Is.
var ErrFindings = errors.New("findings")

type findingsError struct {
	ref string
	n   int
}

func (e *findingsError) Error() string { return fmt.Sprintf("%s: %s", e.ref, plural(e.n, "finding")) }
func (e *findingsError) Unwrap() error { return ErrFindings }

// Err returns nil when there are no findings, else an error such as
// "registry.example/app:v1: 2 findings" that wraps ErrFindings.
func (r *Report) Err() error {
	if r.Summary.Findings == 0 {
		return nil
	}
	return &findingsError{ref: r.Reference, n: r.Summary.Findings}
}

// WriteText writes one line per finding, then the summary line:
// "verified 3 platforms, 12 layers, 240 ELF files: 0 findings".
func (r *Report) WriteText(w io.Writer) error {
	for _, f := range r.Findings() {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "verified %s, %s, %s: %s\n",
		plural(s.Platforms, "platform"), plural(s.Layers, "layer"), plural(s.ELFFiles, "ELF file"), plural(s.Findings, "finding"))
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// summarize fills r.Summary from the children.
func (r *Report) summarize() {
	s := Summary{Platforms: len(r.Children)}
	for _, c := range r.Children {
		s.Layers += c.Layers
		s.ELFFiles += c.ELFFiles
		s.Findings += len(c.Findings)
	}
	r.Summary = s
}
