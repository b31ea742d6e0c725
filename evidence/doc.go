// Package evidence makes and attaches what a release engineer's policy asks
// of every platform of a multi-arch image: a signature on each child and on
// the index, and, per child, an SBOM of what is in that platform's image and
// a provenance statement of how polyarch made it, both signed.
//
// Sign walks an index after it is published:
//
//	key, _ := sign.LoadKey("cosign.key", password)
//	res, err := evidence.Sign(ctx, ref, evidence.Options{
//		Signer: sign.NewSigner(key, sign.WithRemote(ropts...)),
//		Remote: ropts,
//		Build:  func(p v1.Platform, d v1.Hash) *evidence.Build { ... }, // what the release knows
//	})
//
// For each child, concurrently (Options.Jobs): its SBOM (SBOM: an SPDX 2.3
// document listing every file of the flattened image with its SHA-256, and
// the packages of its dpkg or apk database), BuildKit's own provenance when
// the index holds BuildKit's attestation manifest for it, polyarch's
// provenance (Provenance: SLSA v1, naming the commit, the node, native or
// emulated, and the test run), then the child's signature. The index is
// signed last, so a signed index means signed children. Everything is in
// cosign's formats (package sign), verified by cosign and by
// verify.Signatures.
//
// SBOMs are made from the registry's copy of the image: its layers are
// streamed once and never written to disk; only package databases are held
// in memory.
package evidence
