package cli

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/naming"
	"github.com/polyarch/polyarch/platform"
)

func newManifestCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Publish multi-arch images from per-architecture images",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	push := &cobra.Command{
		Use:   "push",
		Short: "Publish a multi-arch index (manifest-tool compatible: from-args, from-spec)",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	push.AddCommand(newFromArgsCmd(g), newFromSpecCmd(g))
	cmd.AddCommand(push)
	return cmd
}

// publishFlags are shared by from-args and from-spec.
type publishFlags struct {
	remote           remoteFlags
	ignoreMissing    bool
	indexType        string
	annotations      []string
	dropAttestations bool
	dryRun           bool
	json             bool
}

func (f *publishFlags) register(cmd *cobra.Command) {
	f.remote.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.ignoreMissing, "ignore-missing", false, "publish without the images that are missing, and report them, instead of failing")
	fl.StringVar(&f.indexType, "type", "", "index type: oci or docker (default: docker when every child is a Docker schema 2 image and nothing needs OCI, else oci)")
	fl.StringArrayVar(&f.annotations, "annotation", nil, "KEY=VALUE annotation on the index, or PLATFORM:KEY=VALUE on that platform's descriptor (repeatable)")
	fl.BoolVar(&f.dropAttestations, "drop-attestations", false, "leave out attestation manifests of BuildKit index sources")
	fl.BoolVar(&f.dryRun, "dry-run", false, "resolve and check everything, write nothing")
	fl.BoolVar(&f.json, "json", false, "print every ref, digest and platform as JSON")
}

// apply fills the request fields that come from flags.
func (f *publishFlags) apply(req *index.Request) error {
	switch f.indexType {
	case "":
	case "oci":
		req.MediaType = types.OCIImageIndex
	case "docker":
		req.MediaType = types.DockerManifestList
	default:
		return usagef("--type %q: want oci or docker", f.indexType)
	}
	var anns []index.Annotation
	for _, a := range f.annotations {
		ann, err := index.ParseAnnotation(a)
		if err != nil {
			return usagef("--%v", err)
		}
		anns = append(anns, ann)
	}
	if err := req.Annotate(anns...); err != nil {
		return usagef("--%v", err)
	}
	req.IgnoreMissing = req.IgnoreMissing || f.ignoreMissing
	req.DropAttestations = f.dropAttestations
	req.DryRun = f.dryRun
	return nil
}

func (f *publishFlags) publish(cmd *cobra.Command, g *globals, req index.Request) error {
	req.Jobs, req.Progress = f.remote.jobs, progress(g, "publishing")
	res, err := index.Publish(cmd.Context(), req, f.remote.client().Remote(cmd.Context())...)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(g.stdout, res)
	}
	printPublish(g, res)
	return nil
}

func printPublish(g *globals, res *index.Result) {
	verb := "published"
	switch {
	case res.DryRun:
		verb = "would publish"
	case res.Unchanged:
		verb = "unchanged"
	}
	kind := "OCI index"
	if res.MediaType == types.DockerManifestList {
		kind = "Docker manifest list"
	}
	fmt.Fprintf(g.stderr, "%s %s (%s, %d manifests)\n", verb, res.Target, kind, len(res.Children))
	for _, c := range res.Children {
		extra := c.Transfer
		if c.Attestation != "" {
			extra += ", attestation for " + short(c.Attestation)
		}
		fmt.Fprintf(g.stderr, "  %-16s %s  %s  (%s)\n", c.Platform, short(c.Digest), c.Source, extra)
	}
	for _, t := range res.Tags {
		fmt.Fprintf(g.stderr, "  tag %s\n", t)
	}
	for _, m := range res.Missing {
		why := "--ignore-missing"
		if m.Optional {
			why = "optional"
		}
		fmt.Fprintf(g.stderr, "  left out %s %s: %s (%s)\n", m.Platform, m.Source, m.Reason, why)
	}
	fmt.Fprintln(g.stdout, res.Digest)
}

func newFromArgsCmd(g *globals) *cobra.Command {
	var (
		f         publishFlags
		platforms string
		optional  string
		template  string
		target    string
		tags      []string
	)
	cmd := &cobra.Command{
		Use:   "from-args --platforms P,... --template TEMPLATE --target REF",
		Short: "Publish an index from arch-named images named by a template",
		Long: `Publish a multi-arch index from per-architecture images whose names follow a
template, as manifest-tool's 'push from-args' does (same flags, same ARCH, OS
and VARIANT placeholders), plus Go templates:

  {{.Arch}}         amd64, arm64, arm (every arm variant), ppc64le...
  {{.Variant}}      v7 for linux/arm/v7, empty otherwise
  {{.ArchVariant}}  amd64, arm64, armv7, armv6
  {{.OS}}           linux
  {{.Platform}}     linux-arm-v7

Each child's platform comes from its image config and must agree with the one
asked for. Children in other repositories are mounted (same registry) or
copied into the target repository first. Nothing is written when an image is
missing unless --ignore-missing (or it is --optional); republishing an
identical index writes nothing and says "unchanged". The index digest is
printed on stdout, the details on stderr.`,
		Example: `  # repository suffix: reg/org/agent-amd64:v1.4, reg/org/agent-arm64:v1.4, reg/org/agent-arm:v1.4
  polyarch manifest push from-args --platforms linux/amd64,linux/arm64,linux/arm/v7 \
    --template 'reg/org/agent-{{.Arch}}:v1.4' --target reg/org/agent:v1.4 --tags latest

  # arch in the tag, manifest-tool style
  polyarch manifest push from-args --platforms linux/amd64,linux/arm64 \
    --template reg/akraino/validation:k8s-ARCH-latest --target reg/akraino/validation:k8s-latest`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if platforms == "" || template == "" || target == "" {
				return usagef("--platforms, --template and --target are all required")
			}
			ps, err := parsePlatforms("platforms", platforms)
			if err != nil {
				return err
			}
			opt, err := parsePlatforms("optional", optional)
			if err != nil {
				return err
			}
			for _, o := range opt {
				if !platform.Contains(ps, o) {
					return usagef("--optional %s is not one of --platforms", platform.Format(o))
				}
			}
			tmpl, err := naming.Parse(template)
			if err != nil {
				return usagef("--template: %v", err)
			}
			tgt, err := f.remote.parseRef("--target", target)
			if err != nil {
				return err
			}
			parse := func(s string) (name.Reference, error) { return f.remote.client().Parse(s) }
			sources, err := index.SourcesFromTemplate(tmpl, ps, opt, parse)
			if err != nil {
				return usagef("--template: %v", err)
			}
			req := index.Request{Target: tgt, Tags: splitTags(tags), Sources: sources}
			if err := f.apply(&req); err != nil {
				return err
			}
			return f.publish(cmd, g, req)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&platforms, "platforms", "", "comma-separated platforms, e.g. linux/amd64,linux/arm64,linux/arm/v7")
	fl.StringVar(&optional, "optional", "", "comma-separated platforms (of --platforms) that may be missing")
	fl.StringVar(&template, "template", "", "arch-named reference of each platform: ARCH/OS/VARIANT placeholders or a Go template")
	fl.StringVar(&target, "target", "", "the multi-arch name to publish, e.g. reg/org/agent:v1.4")
	fl.StringSliceVar(&tags, "tags", nil, "extra tags for the index in the target repository, comma-separated")
	return cmd
}

func newFromSpecCmd(g *globals) *cobra.Command {
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "from-spec FILE.yaml",
		Short: "Publish an index described by a manifest-tool YAML spec",
		Long: `Publish a multi-arch index described by manifest-tool's YAML spec:

  image: reg/org/agent:v1.4
  tags: [latest, "1.4"]
  manifests:
    - image: reg/org/agent-amd64:v1.4
      platform: {os: linux, architecture: amd64}
    - image: reg/org/agent-arm:v1.4
      platform: {os: linux, architecture: arm, variant: v7}
      optional: true          # polyarch: may be missing
      annotations: {k: v}     # polyarch: on this child's descriptor

Errors name the file and line.`,
		Args: exactArgs(1, "FILE.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := index.LoadSpec(args[0])
			if err != nil {
				return err
			}
			req, err := spec.Request(func(s string) (name.Reference, error) { return f.remote.client().Parse(s) })
			if err != nil {
				return err
			}
			if err := f.apply(&req); err != nil {
				return err
			}
			return f.publish(cmd, g, req)
		},
	}
	f.register(cmd)
	return cmd
}

func splitTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
