package evidence

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/polyarch/polyarch/platform"
)

// SBOMPredicateType is the in-toto predicate type of an SPDX document (what
// cosign's --type spdxjson names).
const SBOMPredicateType = "https://spdx.dev/Document"

// imageElement is the SPDX id of the package that stands for the image.
const imageElement = "image"

// maxDatabase bounds how much of a package database file is read.
const maxDatabase = 32 << 20

// Subject names the image an SBOM or a provenance statement is about.
type Subject struct {
	// Repository holds the image; Digest is its manifest's.
	Repository name.Repository
	Digest     v1.Hash
	Platform   v1.Platform
}

// SBOM lists what is in one platform's image, as an SPDX 2.3 document: a
// package for the image itself (its digest, platform and an OCI package URL),
// every regular file of its flattened filesystem (path, SHA-256 and SHA1),
// and the packages its package databases name: dpkg (var/lib/dpkg/status
// and distroless' status.d), apk (lib/apk/db/installed), and a busybox
// binary's own version. A package's files are related to it where its
// database lists them; other files to the image. Layers are streamed once;
// only package databases are held in memory. The document's creation time
// is the image's, so the same image gives the same document.
func SBOM(ctx context.Context, img v1.Image, s Subject, tool string) (*spdx.Document, error) {
	return (&LayerCache{}).SBOM(ctx, img, s, tool)
}

// SBOM is the package's SBOM, reading only the layers c has not read yet.
func (c *LayerCache) SBOM(ctx context.Context, img v1.Image, s Subject, tool string) (*spdx.Document, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", s.ref(), err)
	}
	fs, err := scan(ctx, img, c)
	if err != nil {
		return nil, fmt.Errorf("listing the files of %s: %w", s.ref(), err)
	}
	created := cf.Created.UTC()
	if cf.Created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      fmt.Sprintf("%s %s", s.ref(), platform.Format(s.Platform)),
		DocumentNamespace: fmt.Sprintf("https://spdx.org/spdxdocs/polyarch/%s/%s-%s", s.Repository.Name(), s.Digest.Algorithm, s.Digest.Hex),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: tool}},
			Created:  created.Format(time.RFC3339),
		},
	}
	imagePkg := &spdx.Package{
		PackageName:               s.Repository.Name(),
		PackageSPDXIdentifier:     imageElement,
		PackageVersion:            s.Digest.String(),
		PackageDownloadLocation:   "NOASSERTION",
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageChecksums:          []common.Checksum{{Algorithm: common.SHA256, Value: s.Digest.Hex}},
		PackageComment:            "platform " + platform.Format(s.Platform),
		PrimaryPackagePurpose:     "CONTAINER",
		PackageExternalReferences: []*spdx.PackageExternalReference{{
			Category: "PACKAGE-MANAGER", RefType: "purl", Locator: s.purl(),
		}},
	}
	doc.Packages = append(doc.Packages, imagePkg)
	doc.Relationships = append(doc.Relationships, relationship("DOCUMENT", imageElement, "DESCRIBES"))

	owner := map[string]string{} // file path -> SPDX id of the package listing it
	for i, p := range fs.packages {
		id := fmt.Sprintf("Package-%s-%d", p.kind, i)
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:               p.name,
			PackageSPDXIdentifier:     common.ElementID(id),
			PackageVersion:            p.version,
			PackageDownloadLocation:   "NOASSERTION",
			FilesAnalyzed:             false,
			IsFilesAnalyzedTagPresent: true,
			PackageLicenseDeclared:    orNoAssertion(p.license),
			PackageHomePage:           p.homepage,
			PackageSourceInfo:         p.source,
			PackageExternalReferences: []*spdx.PackageExternalReference{{
				Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.purl(fs.osID, fs.osVersion),
			}},
		})
		doc.Relationships = append(doc.Relationships, relationship(imageElement, id, "CONTAINS"))
		for _, f := range p.files {
			if _, taken := owner[f]; !taken {
				owner[f] = id
			}
		}
	}
	for _, f := range fs.files {
		id := "File-" + shortHash(f.path)
		doc.Files = append(doc.Files, &spdx.File{
			FileName:           "./" + f.path,
			FileSPDXIdentifier: common.ElementID(id),
			Checksums: []common.Checksum{
				{Algorithm: common.SHA1, Value: f.sha1},
				{Algorithm: common.SHA256, Value: f.sha256},
			},
			LicenseConcluded:  "NOASSERTION",
			FileCopyrightText: "NOASSERTION",
		})
		from := imageElement
		if o, ok := owner[f.path]; ok {
			from = o
		}
		doc.Relationships = append(doc.Relationships, relationship(from, id, "CONTAINS"))
	}
	return doc, nil
}

func (s Subject) ref() string { return s.Repository.Digest(s.Digest.String()).String() }

// purl is the image's OCI package URL (purl-spec's oci type).
func (s Subject) purl() string {
	base := s.Repository.RepositoryStr()
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[i+1:]
	}
	q := url.Values{}
	q.Set("arch", s.Platform.Architecture)
	q.Set("os", s.Platform.OS)
	if s.Platform.Variant != "" {
		q.Set("variant", s.Platform.Variant)
	}
	q.Set("repository_url", s.Repository.Name())
	return fmt.Sprintf("pkg:oci/%s@%s?%s", base, url.PathEscape(s.Digest.String()), q.Encode())
}

func relationship(a, b, kind string) *spdx.Relationship {
	ref := func(id string) common.DocElementID {
		if id == "DOCUMENT" {
			return common.DocElementID{ElementRefID: "DOCUMENT"}
		}
		return common.MakeDocElementID("", id)
	}
	return &spdx.Relationship{RefA: ref(a), RefB: ref(b), Relationship: kind}
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:10])
}

func orNoAssertion(s string) string {
	if s == "" {
		return "NOASSERTION"
	}
	return s
}

// file is a regular file of the flattened image.
type file struct {
	path, sha1, sha256 string
}

// pkg is a package a database of the image names.
type pkg struct {
	kind                      string // deb, apk, generic
	name, version, arch       string
	license, homepage, source string
	files                     []string
}

// purl is the package's package URL.
func (p pkg) purl(osID, osVersion string) string {
	q := url.Values{}
	if p.arch != "" {
		q.Set("arch", p.arch)
	}
	ns := osID
	switch p.kind {
	case "deb":
		if ns == "" {
			ns = "debian"
		}
	case "apk":
		if ns == "" {
			ns = "alpine"
		}
	}
	if osID != "" && osVersion != "" && p.kind != "generic" {
		q.Set("distro", osID+"-"+osVersion)
	}
	s := "pkg:" + p.kind + "/"
	if p.kind != "generic" {
		s += ns + "/"
	}
	s += url.PathEscape(p.name) + "@" + url.PathEscape(p.version)
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// scanned is what one pass over an image's filesystem found.
type scanned struct {
	files           []file
	packages        []pkg
	osID, osVersion string
}

// isDatabase says whether a path is a package database or os-release,
// whose content is kept for parsing.
func isDatabase(p string) bool {
	switch {
	case p == "var/lib/dpkg/status", p == "lib/apk/db/installed", p == "etc/os-release", p == "usr/lib/os-release":
		return true
	case strings.HasPrefix(p, "var/lib/dpkg/status.d/"):
		return !strings.HasSuffix(p, ".md5sums")
	case strings.HasPrefix(p, "var/lib/dpkg/info/") && strings.HasSuffix(p, ".list"):
		return true
	case path.Base(p) == "busybox":
		return true
	}
	return false
}

func hexOf(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// osRelease reads ID and VERSION_ID from os-release.
func osRelease(dbs map[string][]byte) (id, version string) {
	b, ok := dbs["etc/os-release"]
	if !ok {
		b = dbs["usr/lib/os-release"]
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			version = v
		}
	}
	return id, version
}

// paragraphs splits a deb822-style file into its paragraphs of fields
// (continuation lines appended to their field).
func paragraphs(b []byte) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxDatabase)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur, last = map[string]string{}, ""
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += "\n" + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if ok {
				last = k
				cur[k] = strings.TrimSpace(v)
			}
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// dpkgPackages lists the installed packages of dpkg's status file and of
// distroless' status.d, each with the files its .list names.
func dpkgPackages(dbs map[string][]byte) []pkg {
	var paras []map[string]string
	for _, p := range paragraphs(dbs["var/lib/dpkg/status"]) {
		if strings.HasSuffix(p["Status"], " installed") {
			paras = append(paras, p)
		}
	}
	var extra []string
	for k := range dbs {
		if strings.HasPrefix(k, "var/lib/dpkg/status.d/") {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		paras = append(paras, paragraphs(dbs[k])...)
	}
	var out []pkg
	for _, p := range paras {
		if p["Package"] == "" {
			continue
		}
		d := pkg{kind: "deb", name: p["Package"], version: p["Version"], arch: p["Architecture"], homepage: p["Homepage"], source: p["Source"]}
		if d.source != "" {
			d.source = "built from the Debian source package " + d.source
		}
		list := dbs["var/lib/dpkg/info/"+d.name+".list"]
		if list == nil {
			list = dbs["var/lib/dpkg/info/"+d.name+":"+d.arch+".list"]
		}
		for _, l := range strings.Split(string(list), "\n") {
			if l = strings.TrimPrefix(strings.TrimSpace(l), "/"); l != "" && l != "." {
				d.files = append(d.files, l)
			}
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// apkPackages lists the packages of apk's installed database.
func apkPackages(b []byte) []pkg {
	var out []pkg
	var cur *pkg
	dir := ""
	flush := func() {
		if cur != nil && cur.name != "" {
			out = append(out, *cur)
		}
		cur, dir = nil, ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		if cur == nil {
			cur = &pkg{kind: "apk"}
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			cur.name = v
		case 'V':
			cur.version = v
		case 'A':
			cur.arch = v
		case 'L':
			cur.license = v
		case 'U':
			cur.homepage = v
		case 'o':
			cur.source = "built from the apk origin " + v
		case 'F':
			dir = v
		case 'R':
			cur.files = append(cur.files, path.Join(dir, v))
		}
	}
	flush()
	return out
}

var busyboxVersion = regexp.MustCompile(`BusyBox v([0-9]+\.[0-9]+(\.[0-9]+)?)`)

// busyboxPackages names busybox binaries by the version they print, for
// images (such as a busybox base image) that carry no package database.
func busyboxPackages(dbs map[string][]byte) []pkg {
	var out []pkg
	var paths []string
	for k := range dbs {
		if path.Base(k) == "busybox" {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		b := dbs[p]
		if !bytes.HasPrefix(b, []byte("\x7fELF")) {
			continue
		}
		m := busyboxVersion.FindSubmatch(b)
		if m == nil {
			continue
		}
		out = append(out, pkg{kind: "generic", name: "busybox", version: string(m[1]), license: "GPL-2.0-only", homepage: "https://busybox.net", files: []string{p}})
	}
	return out
}

// SBOMSummary is what verify checks of an SBOM: which image it describes
// and how much it lists.
type SBOMSummary struct {
	// Digest and Platform are those of the image package the document
	// describes.
	Digest   v1.Hash
	Platform string
	Files    int
	Packages int
	// Tool is the tool that made it ("polyarch-v0.5.0"), when it says.
	Tool string
}

// ReadSBOM summarises an SPDX predicate written by SBOM (or any SPDX JSON
// document whose described package carries a sha256 checksum).
func ReadSBOM(predicate []byte) (*SBOMSummary, error) {
	var doc spdx.Document
	if err := json.Unmarshal(predicate, &doc); err != nil {
		return nil, fmt.Errorf("SPDX document: %w", err)
	}
	described := map[common.ElementID]bool{}
	for _, r := range doc.Relationships {
		if r.Relationship == "DESCRIBES" {
			described[r.RefB.ElementRefID] = true
		}
	}
	for _, p := range doc.Packages {
		if !described[p.PackageSPDXIdentifier] {
			continue
		}
		s := &SBOMSummary{Files: len(doc.Files), Packages: len(doc.Packages) - 1, Platform: strings.TrimPrefix(p.PackageComment, "platform ")}
		if ci := doc.CreationInfo; ci != nil {
			for _, c := range ci.Creators {
				if c.CreatorType == "Tool" {
					s.Tool = c.Creator
				}
			}
		}
		for _, c := range p.PackageChecksums {
			if c.Algorithm == common.SHA256 {
				s.Digest = v1.Hash{Algorithm: "sha256", Hex: c.Value}
			}
		}
		if s.Digest.Hex == "" {
			return nil, fmt.Errorf("SPDX document: the described package %s has no sha256 checksum", p.PackageName)
		}
		return s, nil
	}
	return nil, fmt.Errorf("SPDX document describes no package")
}
