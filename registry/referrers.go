package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/auth"
	registrymiddleware "github.com/distribution/distribution/v3/registry/middleware/registry"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// The referrers layer.
//
// distribution v3.1.2 stores manifests that carry a subject but cannot list
// them. This layer keeps, for each (repository, subject digest), one small
// file per referrer holding the referrer's descriptor, written through the
// registry's own storage driver (so it lives wherever the blobs live, S3
// included) at
//
//	<driver root>/docker/registry/v2/repositories/<name>/_referrers/<alg>/<subject hex>/<alg>-<referrer hex>
//
// distribution's catalog skips directories starting with "_", and deleting a
// repository deletes its referrers with it. Entries are written by a registry
// middleware wrapping ManifestService.Put, before distribution answers 201, so
// a client that got 201 sees the referrer at once; they are removed on
// manifest delete. A listing re-checks that each referrer manifest still
// exists, so one removed behind the registry's back (garbage collection) is
// never listed.

const (
	referrersMiddlewareName = "polyarch-referrers"
	captureOption           = "polyarch-capture"
	repositoriesRoot        = "/docker/registry/v2/repositories"
	// maxReferrerDescriptor bounds what one entry file may hold.
	maxReferrerDescriptor = 1 << 20
)

var registerOnce sync.Once

func init() {
	registerOnce.Do(func() {
		if err := registrymiddleware.Register(referrersMiddlewareName, installReferrers); err != nil {
			panic(err)
		}
	})
}

// namespaceCapture carries the per-registry state between New and the
// middleware that distribution instantiates inside NewApp.
type namespaceCapture struct {
	ns    distribution.Namespace
	store *referrerStore
}

func installReferrers(ctx context.Context, ns distribution.Namespace, driver storagedriver.StorageDriver, opts map[string]any) (distribution.Namespace, error) {
	capture, ok := opts[captureOption].(*namespaceCapture)
	if !ok {
		return nil, errors.New("polyarch-referrers middleware is internal to polyarch")
	}
	store := &referrerStore{driver: driver, ns: ns}
	capture.ns = ns
	capture.store = store
	return &referrerNamespace{Namespace: ns, store: store}, nil
}

type referrerStore struct {
	driver storagedriver.StorageDriver
	ns     distribution.Namespace
}

func (s *referrerStore) dir(repo string, subject digest.Digest) string {
	return path.Join(repositoriesRoot, repo, "_referrers", subject.Algorithm().String(), subject.Encoded())
}

func (s *referrerStore) entry(repo string, subject, referrer digest.Digest) string {
	return path.Join(s.dir(repo, subject), referrer.Algorithm().String()+"-"+referrer.Encoded())
}

// manifestFields are the parts of an OCI manifest or index the referrers API reports.
type manifestFields struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *v1.Descriptor    `json:"config"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

// subjectOf returns the subject of a manifest payload, if it names one.
func subjectOf(payload []byte) (*v1.Descriptor, *manifestFields) {
	var m manifestFields
	if err := json.Unmarshal(payload, &m); err != nil || m.Subject == nil || m.Subject.Digest.Validate() != nil {
		return nil, nil
	}
	return m.Subject, &m
}

// record stores the descriptor of a referrer manifest under its subject.
func (s *referrerStore) record(ctx context.Context, repo string, mediaType string, payload []byte, dgst digest.Digest) error {
	subject, m := subjectOf(payload)
	if subject == nil {
		return nil
	}
	desc := v1.Descriptor{
		MediaType:    mediaType,
		Digest:       dgst,
		Size:         int64(len(payload)),
		ArtifactType: m.ArtifactType,
		Annotations:  m.Annotations,
	}
	if desc.ArtifactType == "" && m.Config != nil && m.MediaType == v1.MediaTypeImageManifest {
		desc.ArtifactType = m.Config.MediaType
	}
	b, err := json.Marshal(desc)
	if err != nil {
		return err
	}
	if err := s.driver.PutContent(ctx, s.entry(repo, subject.Digest, dgst), b); err != nil {
		return fmt.Errorf("recording referrer %s of %s in %s: %w", dgst, subject.Digest, repo, err)
	}
	return nil
}

// forget removes a referrer entry when its manifest is deleted.
func (s *referrerStore) forget(ctx context.Context, repo string, payload []byte, dgst digest.Digest) error {
	subject, _ := subjectOf(payload)
	if subject == nil {
		return nil
	}
	err := s.driver.Delete(ctx, s.entry(repo, subject.Digest, dgst))
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return nil
	}
	return err
}

// list returns the referrers of subject in repo, optionally only those of one
// artifact type, sorted by digest.
func (s *referrerStore) list(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]v1.Descriptor, error) {
	entries, err := s.driver.List(ctx, s.dir(repo, subject))
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return []v1.Descriptor{}, nil
	}
	if err != nil {
		return nil, err
	}
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, err
	}
	r, err := s.ns.Repository(ctx, named)
	if err != nil {
		return nil, err
	}
	manifests, err := r.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	out := []v1.Descriptor{}
	for _, e := range entries {
		b, err := s.driver.GetContent(ctx, e)
		if errors.As(err, new(storagedriver.PathNotFoundError)) {
			continue // deleted while we listed
		}
		if err != nil {
			return nil, err
		}
		if len(b) > maxReferrerDescriptor {
			continue
		}
		var d v1.Descriptor
		if err := json.Unmarshal(b, &d); err != nil || d.Digest.Validate() != nil {
			continue
		}
		if artifactType != "" && d.ArtifactType != artifactType {
			continue
		}
		ok, err := manifests.Exists(ctx, d.Digest)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, nil
}

// prune deletes the entries of referrers whose manifest is gone (garbage
// collection with --remove-untagged deletes untagged referrers) and returns
// how many it deleted.
func (s *referrerStore) prune(ctx context.Context) (int, error) {
	var stale []string
	err := s.driver.Walk(ctx, repositoriesRoot, func(fi storagedriver.FileInfo) error {
		p := fi.Path()
		repoDir, entry, found := strings.Cut(strings.TrimPrefix(p, repositoriesRoot+"/"), "/_referrers/")
		if !found || fi.IsDir() {
			return nil
		}
		alg, hex, ok := strings.Cut(path.Base(entry), "-")
		if !ok {
			return nil
		}
		dgst := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
		named, err := reference.WithName(repoDir)
		if err != nil {
			return nil
		}
		r, err := s.ns.Repository(ctx, named)
		if err != nil {
			return err
		}
		ms, err := r.Manifests(ctx)
		if err != nil {
			return err
		}
		if exists, err := ms.Exists(ctx, dgst); err == nil && !exists {
			stale = append(stale, p)
		}
		return nil
	})
	if err != nil && !errors.As(err, new(storagedriver.PathNotFoundError)) {
		return 0, err
	}
	for _, p := range stale {
		if err := s.driver.Delete(ctx, p); err != nil && !errors.As(err, new(storagedriver.PathNotFoundError)) {
			return 0, err
		}
	}
	return len(stale), nil
}

// referrerNamespace hands out repositories whose manifest service records
// referrers as manifests are put and deleted.
type referrerNamespace struct {
	distribution.Namespace
	store *referrerStore
}

func (n *referrerNamespace) Repository(ctx context.Context, name reference.Named) (distribution.Repository, error) {
	r, err := n.Namespace.Repository(ctx, name)
	if err != nil {
		return nil, err
	}
	return &referrerRepository{Repository: r, store: n.store}, nil
}

// Enumerate and Remove are forwarded so that catalog listing, repository
// deletion and garbage collection keep working through the wrapper.
func (n *referrerNamespace) Enumerate(ctx context.Context, ingester func(string) error) error {
	e, ok := n.Namespace.(distribution.RepositoryEnumerator)
	if !ok {
		return errors.New("storage cannot enumerate repositories")
	}
	return e.Enumerate(ctx, ingester)
}

func (n *referrerNamespace) Remove(ctx context.Context, name reference.Named) error {
	r, ok := n.Namespace.(distribution.RepositoryRemover)
	if !ok {
		return errors.New("storage cannot remove repositories")
	}
	return r.Remove(ctx, name)
}

type referrerRepository struct {
	distribution.Repository
	store *referrerStore
}

func (r *referrerRepository) Manifests(ctx context.Context, options ...distribution.ManifestServiceOption) (distribution.ManifestService, error) {
	ms, err := r.Repository.Manifests(ctx, options...)
	if err != nil {
		return nil, err
	}
	return &referrerManifests{ManifestService: ms, repo: r.Named().Name(), store: r.store}, nil
}

type referrerManifests struct {
	distribution.ManifestService
	repo  string
	store *referrerStore
}

func (m *referrerManifests) Put(ctx context.Context, manifest distribution.Manifest, options ...distribution.ManifestServiceOption) (digest.Digest, error) {
	dgst, err := m.ManifestService.Put(ctx, manifest, options...)
	if err != nil {
		return dgst, err
	}
	mediaType, payload, err := manifest.Payload()
	if err != nil {
		return dgst, err
	}
	return dgst, m.store.record(ctx, m.repo, mediaType, payload, dgst)
}

func (m *referrerManifests) Delete(ctx context.Context, dgst digest.Digest) error {
	var payload []byte
	if old, err := m.ManifestService.Get(ctx, dgst); err == nil {
		_, payload, _ = old.Payload()
	}
	if err := m.ManifestService.Delete(ctx, dgst); err != nil {
		return err
	}
	return m.store.forget(ctx, m.repo, payload, dgst)
}

// Enumerate is forwarded for garbage collection, which needs it.
func (m *referrerManifests) Enumerate(ctx context.Context, ingester func(digest.Digest) error) error {
	e, ok := m.ManifestService.(distribution.ManifestEnumerator)
	if !ok {
		return errors.New("manifest service cannot enumerate")
	}
	return e.Enumerate(ctx, ingester)
}

// handler serves GET /v2/<name>/referrers/<digest> and adds the OCI-Subject
// header to successful manifest PUTs; everything else goes to next.
func (s *referrerStore) handler(next http.Handler, ac auth.AccessController) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ref, ok := splitRoute(r.URL.Path, "/referrers/"); ok {
			s.serveReferrers(w, r, name, ref, ac)
			return
		}
		if _, _, ok := splitRoute(r.URL.Path, "/manifests/"); ok && r.Method == http.MethodPut {
			s.putManifest(w, r, next)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// splitRoute splits /v2/<name><sep><ref> into name and ref.
func splitRoute(p, sep string) (name, ref string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, sep)
	if i <= 0 {
		return "", "", false
	}
	name, ref = rest[:i], rest[i+len(sep):]
	if ref == "" || strings.Contains(ref, "/") {
		return "", "", false
	}
	return name, ref, true
}

// maxManifestBody matches distribution's own limit on manifest uploads.
const maxManifestBody = 4 << 20

func (s *referrerStore) putManifest(w http.ResponseWriter, r *http.Request, next http.Handler) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestBody+1))
	if err != nil {
		serveError(w, errcode.ErrorCodeUnknown.WithDetail(err.Error()))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	subject, _ := subjectOf(body)
	if subject == nil {
		next.ServeHTTP(w, r)
		return
	}
	next.ServeHTTP(&subjectHeaderWriter{ResponseWriter: w, subject: subject.Digest}, r)
}

// subjectHeaderWriter sets OCI-Subject on a 201, telling the client that this
// registry indexes referrers and it need not maintain a fallback tag.
type subjectHeaderWriter struct {
	http.ResponseWriter
	subject digest.Digest
}

func (w *subjectHeaderWriter) WriteHeader(code int) {
	if code == http.StatusCreated {
		w.Header().Set("OCI-Subject", w.subject.String())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *referrerStore) serveReferrers(w http.ResponseWriter, r *http.Request, name, ref string, ac auth.AccessController) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		serveError(w, errcode.ErrorCodeUnsupported.WithMessage("the referrers API only answers GET and HEAD"))
		return
	}
	if _, err := reference.WithName(name); err != nil {
		serveError(w, errcode.ErrorCodeNameInvalid.WithDetail(fmt.Sprintf("repository name %q: %v", name, err)))
		return
	}
	if ac != nil {
		access := auth.Access{Resource: auth.Resource{Type: "repository", Name: name}, Action: "pull"}
		if _, err := ac.Authorized(r, access); err != nil {
			var ch auth.Challenge
			if errors.As(err, &ch) {
				ch.SetHeaders(r, w)
				serveError(w, errcode.ErrorCodeUnauthorized.WithDetail([]auth.Access{access}))
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			return
		}
	}
	subject, err := digest.Parse(ref)
	if err != nil {
		serveError(w, errcode.ErrorCodeDigestInvalid.WithDetail(fmt.Sprintf("%q: %v", ref, err)))
		return
	}
	artifactType := r.URL.Query().Get("artifactType")
	descs, err := s.list(r.Context(), name, subject, artifactType)
	if err != nil {
		serveError(w, errcode.ErrorCodeUnknown.WithDetail(err.Error()))
		return
	}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: descs}
	idx.SchemaVersion = 2
	b, err := json.Marshal(idx)
	if err != nil {
		serveError(w, errcode.ErrorCodeUnknown.WithDetail(err.Error()))
		return
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", v1.MediaTypeImageIndex)
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}

// serveError writes an OCI error body with the code's own HTTP status.
func serveError(w http.ResponseWriter, e errcode.Error) {
	_ = errcode.ServeJSON(w, e)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *subjectHeaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
