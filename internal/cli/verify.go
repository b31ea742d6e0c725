package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/verify"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		rf         remoteFlags
		asJSON     bool
		ignore     []string
		signatures bool
		keys       []string
	)
	cmd := &cobra.Command{
		Use:   "verify REF",
		Short: "Check that every platform label is true: descriptor vs config vs the ELF binaries inside",
		Long: `Check that every platform label of an index (or image) is true.

For each platform of the index: the image config must name the descriptor's
platform (after containerd's normalisation), and every ELF binary in every
layer must be for that platform's CPU, and need no more than its variant
promises: ARM binaries' build attributes (Tag_CPU_arch: an ARMv7 binary in
an arm/v6 image is a finding) and the x86-64 level an amd64 binary declares
(a v3 binary in linux/amd64, which means v1). Layers are streamed (gzip, zstd or
plain tar), never written to disk, each downloaded once.

Also reported: arm without a variant, platforms listed twice, spellings that
need normalising (aarch64, x86_64, armhf), and index entries whose manifest
is missing from the repository. A single image is checked against its
config. Attestation manifests (unknown/unknown) are skipped.

Prints one line per finding, then "verified N platforms, M layers, K ELF
files: X findings". Exit status 1 when there is any finding.

With --signatures (and one or more --key), checks instead what 'polyarch
sign' and a release with a sign: section attach: the index signed, and each
child signed, with an SBOM and a provenance statement that are signed and
about that child's digest and platform, in either of cosign's formats. It
prints a table per platform and exits 1 naming each platform and what is
missing or wrong.`,
		Example: `  polyarch verify 127.0.0.1:5000/org/agent:v1.4
  polyarch verify reg.example/org/agent:v1.4 --json | jq '.children[].findings[]'
  polyarch verify golang:1.24 --ignore 'usr/local/go/src/**/testdata'
  polyarch verify 127.0.0.1:5000/org/agent:v1.4 --signatures --key cosign.pub`,
		Args: exactArgs(1, "REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := rf.parseRef("REF", args[0])
			if err != nil {
				return err
			}
			if err := verify.CheckIgnore(ignore...); err != nil {
				return usagef("--ignore: %v", err)
			}
			if signatures || len(keys) > 0 {
				return verifySignatures(cmd.Context(), g, ref, &rf, signatures, keys, asJSON)
			}
			rep, err := verify.Verify(cmd.Context(), ref,
				verify.WithRemote(rf.client().Remote(cmd.Context())...),
				verify.WithIgnore(ignore...),
				verify.WithConcurrency(rf.jobs))
			if err != nil {
				return err
			}
			return printReport(g, rep, asJSON)
		},
	}
	rf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&signatures, "signatures", false, "check signatures, SBOMs and provenance (with --key) instead of the binaries")
	cmd.Flags().StringArrayVar(&keys, "key", nil, "with --signatures: a public key that signatures must verify with (a file or env://VAR; repeatable: any of them)")
	cmd.Flags().StringArrayVar(&ignore, "ignore", nil, "skip files whose path in a layer matches this glob (repeatable; ** matches any directories, a matched directory skips what is beneath)")
	return cmd
}

// findingsReport is what verify's checks return: printed as text or JSON, then
// its findings as the command's error (exit 1).
type findingsReport interface {
	WriteJSON(io.Writer) error
	WriteText(io.Writer) error
	Err() error
}

func printReport(g *globals, rep findingsReport, asJSON bool) error {
	var err error
	if asJSON {
		err = rep.WriteJSON(g.stdout)
	} else {
		err = rep.WriteText(g.stdout)
	}
	if err != nil {
		return err
	}
	return rep.Err()
}
