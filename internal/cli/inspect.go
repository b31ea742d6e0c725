package cli

import (
	"fmt"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/index"
)

func newInspectCmd(g *globals) *cobra.Command {
	var (
		rf      remoteFlags
		asJSON  bool
		rawOnly bool
	)
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Describe an index or image: media type, digest, and per platform digest, size, layers, created, annotations",
		Example: `  polyarch inspect reg/org/agent:v1.4
  polyarch inspect reg/org/agent:v1.4 --json
  polyarch inspect reg/org/agent:v1.4 --raw | jq .`,
		Args: exactArgs(1, "REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := rf.parseRef("REF", args[0])
			if err != nil {
				return err
			}
			opts := rf.client().Remote(cmd.Context())
			if rawOnly {
				desc, err := remote.Get(ref, opts...)
				if err != nil {
					return fmt.Errorf("fetching %s: %w", ref, err)
				}
				_, err = g.stdout.Write(append(desc.Manifest, '\n'))
				return err
			}
			ins, err := index.InspectWith(cmd.Context(), ref, index.InspectOptions{Jobs: rf.jobs}, opts...)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, ins)
			}
			printInspection(g, ins)
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().BoolVar(&rawOnly, "raw", false, "print the manifest exactly as the registry serves it")
	return cmd
}

func printInspection(g *globals, ins *index.Inspection) {
	w := g.stdout
	kind := "image"
	if ins.IsIndex {
		kind = fmt.Sprintf("index of %d manifests", len(ins.Manifests))
	}
	fmt.Fprintf(w, "%s\n  %s\n  %s (%s, %d bytes)\n", ins.Reference, ins.Digest, ins.MediaType, kind, ins.Size)
	printAnnotations(g, "  ", ins.Annotations)
	for _, m := range ins.Manifests {
		fmt.Fprintf(w, "\n%s\n", orDash(m.Platform))
		fmt.Fprintf(w, "  digest     %s\n  mediaType  %s\n  size       %s (manifest %d bytes)\n", m.Digest, m.MediaType, humanBytes(m.ImageSize), m.Size)
		if m.AttestationFor != "" {
			fmt.Fprintf(w, "  attests    %s\n", m.AttestationFor)
		}
		if m.ConfigPlatform != "" {
			fmt.Fprintf(w, "  config     says %s\n", m.ConfigPlatform)
		}
		if m.Created != nil {
			fmt.Fprintf(w, "  created    %s\n", m.Created.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "  layers     %d\n", len(m.Layers))
		for _, l := range m.Layers {
			fmt.Fprintf(w, "    %s  %9s  %s\n", l.Digest, humanBytes(l.Size), l.MediaType)
		}
		printAnnotations(g, "  ", m.Annotations)
	}
}

func printAnnotations(g *globals, indent string, a map[string]string) {
	if len(a) == 0 {
		return
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(g.stdout, "%sannotations\n", indent)
	for _, k := range keys {
		fmt.Fprintf(g.stdout, "%s  %s=%s\n", indent, k, a[k])
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
