package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/sign"
	"github.com/polyarch/polyarch/verify"
)

// keyFlags are how a command reads a signing key: --key and --password-env.
type keyFlags struct {
	key         string
	passwordEnv string
}

func (f *keyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.key, "key", "", "the cosign private key: a file, or env://VAR (the PEM in an environment variable)")
	cmd.Flags().StringVar(&f.passwordEnv, "password-env", "COSIGN_PASSWORD", "the environment variable holding the key's password (set it empty for a key without one)")
}

// password reads the key's password from the environment, else from the
// terminal (asking confirm times).
func (f *keyFlags) password(g *globals, confirm bool) ([]byte, error) {
	if v, ok := os.LookupEnv(f.passwordEnv); ok {
		return []byte(v), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, usagef("$%s is not set: set it to the key's password (empty for none), or name another variable with --password-env", f.passwordEnv)
	}
	fmt.Fprint(g.stderr, "Password for the key: ")
	pw, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(g.stderr)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprint(g.stderr, "The same again: ")
		again, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(g.stderr)
		if err != nil {
			return nil, err
		}
		if string(again) != string(pw) {
			return nil, errors.New("the passwords differ")
		}
	}
	return pw, nil
}

func newSignCmd(g *globals) *cobra.Command {
	var (
		rf         remoteFlags
		kf         keyFlags
		format     string
		noEvidence bool
		asJSON     bool
		generate   bool
		prefix     string
	)
	cmd := &cobra.Command{
		Use:   "sign REF | sign --generate-key",
		Short: "Sign an index and every child, attaching each child's SBOM and provenance",
		Long: `Sign a published multi-arch image in cosign's formats: every child manifest,
then the index. Each child also gets its SBOM (SPDX 2.3: every file of that
platform's image with its SHA-256, and the packages of its dpkg or apk
database) and a SLSA v1 provenance statement, both signed the same way.
BuildKit's own provenance, when the index holds it, is attached signed too.

--format tag (the default) writes cosign's sha256-<digest>.sig and .att tags,
which 'cosign verify --key' and 'cosign verify-attestation --key' read without
further flags; --format referrers writes OCI 1.1 referrers holding sigstore
bundles (cosign --new-bundle-format). Nothing goes to a transparency log:
cosign verifies with --insecure-ignore-tlog=true.

Signing is idempotent: what the key already signed is not written again.
'polyarch release' and 'polyarch publish' do this themselves when
polyarch.yaml has a sign: section; check the result with
'polyarch verify REF --signatures --key cosign.pub'.

--generate-key writes a new ECDSA P-256 key pair in cosign's format
(cosign.key, encrypted with the password in $COSIGN_PASSWORD, and cosign.pub).`,
		Example: `  COSIGN_PASSWORD=... polyarch sign --generate-key
  COSIGN_PASSWORD=... polyarch sign 127.0.0.1:5000/org/agent:v1.4 --key cosign.key
  polyarch sign reg.example/org/agent:v1.4 --key env://COSIGN_KEY --format referrers`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if generate {
				if len(args) > 0 {
					return usagef("--generate-key takes no REF")
				}
				return generateKey(g, &kf, prefix)
			}
			if len(args) != 1 {
				return usagef("%s takes 1 argument (REF), got %d", cmd.CommandPath(), len(args))
			}
			ref, err := rf.parseRef("REF", args[0])
			if err != nil {
				return err
			}
			f, err := sign.ParseFormat(format)
			if err != nil {
				return usagef("--format: %v", err)
			}
			if kf.key == "" {
				return usagef("--key: missing: the cosign private key to sign with (polyarch sign --generate-key makes one)")
			}
			pw, err := kf.password(g, false)
			if err != nil {
				return err
			}
			key, err := sign.LoadKey(kf.key, pw)
			if err != nil {
				return err
			}
			ropts := rf.client().Remote(cmd.Context())
			res, err := evidence.Sign(cmd.Context(), ref, evidence.Options{
				Signer:     sign.NewSigner(key, sign.WithFormat(f), sign.WithRemote(ropts...)),
				Remote:     ropts,
				NoEvidence: noEvidence,
				Jobs:       rf.jobs,
				Polyarch:   pipeline.PolyarchVersion(),
			})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, res)
			}
			return writeSignResult(g.stdout, res, key.Public())
		},
	}
	rf.register(cmd)
	kf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "tag", "where signatures go: tag (cosign's sha256-<digest>.sig/.att tags) or referrers (OCI 1.1 referrers with sigstore bundles)")
	cmd.Flags().BoolVar(&noEvidence, "no-evidence", false, "sign only: attach no SBOM and no provenance")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was signed as JSON")
	cmd.Flags().BoolVar(&generate, "generate-key", false, "write a new key pair (PREFIX.key, PREFIX.pub) instead of signing")
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "with --generate-key: the key files' path without .key/.pub")
	return cmd
}

// generateKey writes PREFIX.key and PREFIX.pub, refusing to overwrite.
func generateKey(g *globals, kf *keyFlags, prefix string) error {
	privPath, pubPath := prefix+".key", prefix+".pub"
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists: not overwriting a key (remove it, or give --output-key-prefix)", p)
		}
	}
	pw, err := kf.password(g, true)
	if err != nil {
		return err
	}
	priv, pub, err := sign.GenerateKey(pw)
	if err != nil {
		return err
	}
	if err := os.WriteFile(privPath, priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		return err
	}
	k, _ := sign.ParsePublicKey(pub)
	fmt.Fprintf(g.stdout, "wrote %s (private, encrypted with $%s) and %s (public, key %s)\n", privPath, kf.passwordEnv, pubPath, k.ID())
	return nil
}

func writeSignResult(w io.Writer, res *evidence.Result, key *sign.PublicKey) error {
	opt := func(o *sign.Outcome) string {
		if o == nil {
			return "-"
		}
		return o.String()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tDIGEST\tSIGNATURE\tSBOM\tPROVENANCE\tFILES\tPACKAGES")
	for _, c := range res.Children {
		prov := opt(c.Provenance)
		if c.BuildKitProvenance > 0 {
			prov += fmt.Sprintf(" (+%d BuildKit)", c.BuildKitProvenance)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", c.Platform, short(c.Digest.String()), c.Signature, opt(c.SBOM), prov, c.Files, c.Packages)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s %s: %s with key %s\n", res.Reference, short(res.Digest.String()), res.Signature, key.ID())
	return err
}

// verifySignatures is verify --signatures.
func verifySignatures(ctx context.Context, g *globals, ref name.Reference, rf *remoteFlags, signatures bool, keyRefs []string, asJSON bool) error {
	if !signatures {
		return usagef("--key: only with --signatures")
	}
	if len(keyRefs) == 0 {
		return usagef("--signatures: give the public key signatures must verify with: --key cosign.pub")
	}
	var keys []*sign.PublicKey
	for _, r := range keyRefs {
		k, err := sign.LoadPublicKey(r)
		if err != nil {
			return usagef("--key: %v", err)
		}
		keys = append(keys, k)
	}
	rep, err := verify.Signatures(ctx, ref, keys,
		verify.WithRemote(rf.client().Remote(ctx)...),
		verify.WithConcurrency(rf.jobs))
	if err != nil {
		return err
	}
	return printReport(g, rep, asJSON)
}
