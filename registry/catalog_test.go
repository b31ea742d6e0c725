package registry_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/registry"
)

// getJSON GETs path on the registry and decodes a 200 answer into v; it
// returns the Link header (the next page), or fails with the error body.
func getJSON(t *testing.T, reg *testutil.Registry, path string, v any) (next string) {
	t.Helper()
	resp, err := reg.Server.Client().Get(reg.Server.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return resp.Header.Get("Link")
}

// linkPath turns a Link header (`</v2/_catalog?last=b&n=2>; rel="next"`) into
// the path and query it names.
func linkPath(t *testing.T, link string) string {
	t.Helper()
	start, end := strings.Index(link, "<"), strings.Index(link, ">")
	if start < 0 || end < start || !strings.Contains(link, `rel="next"`) {
		t.Fatalf("Link header %q is not a next link", link)
	}
	u, err := url.Parse(link[start+1 : end])
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func TestCatalogAndTagListing(t *testing.T) {
	reg := testutil.NewRegistry(t)
	repos := []string{"alpha/one", "beta", "gamma/deep/three", "org/agent"}
	tags := []string{"v1", "v2", "v3", "latest"}
	img, _ := random.Image(64, 1)
	for _, r := range repos {
		if err := remote.Write(testutil.Ref(t, reg.Host+"/"+r+":v1"), img); err != nil {
			t.Fatal(err)
		}
	}
	for _, tag := range tags[1:] {
		if err := remote.Write(testutil.Ref(t, reg.Host+"/org/agent:"+tag), img); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("ggcr catalog lists every repository", func(t *testing.T) {
		got, err := remote.Catalog(t.Context(), testutil.Ref(t, reg.Host+"/x").Context().Registry)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, repos) {
			t.Errorf("catalog = %v, want %v", got, repos)
		}
	})

	t.Run("n=100 is accepted", func(t *testing.T) {
		var page struct{ Repositories []string }
		if link := getJSON(t, reg, "/v2/_catalog?n=100", &page); link != "" {
			t.Errorf("Link %q on the only page", link)
		}
		if !slices.Equal(page.Repositories, repos) {
			t.Errorf("catalog?n=100 = %v, want %v", page.Repositories, repos)
		}
	})

	t.Run("catalog pages with n and last", func(t *testing.T) {
		var all []string
		path := "/v2/_catalog?n=3"
		for pages := 0; path != ""; pages++ {
			if pages > len(repos) {
				t.Fatalf("more pages than repositories; got so far %v", all)
			}
			var page struct{ Repositories []string }
			link := getJSON(t, reg, path, &page)
			if len(page.Repositories) > 3 {
				t.Errorf("%s returned %d entries", path, len(page.Repositories))
			}
			all = append(all, page.Repositories...)
			path = ""
			if link != "" {
				path = linkPath(t, link)
			}
		}
		if !slices.Equal(all, repos) {
			t.Errorf("paged catalog = %v, want %v", all, repos)
		}
		var page struct{ Repositories []string }
		getJSON(t, reg, "/v2/_catalog?n=2&last=beta", &page)
		if want := repos[2:]; !slices.Equal(page.Repositories, want) {
			t.Errorf("catalog after beta = %v, want %v", page.Repositories, want)
		}
	})

	t.Run("tags page with n and last", func(t *testing.T) {
		got, err := remote.List(testutil.Ref(t, reg.Host+"/org/agent").Context())
		if err != nil {
			t.Fatal(err)
		}
		sorted := slices.Sorted(slices.Values(tags))
		if !slices.Equal(got, sorted) {
			t.Errorf("tags = %v, want %v", got, sorted)
		}
		var page struct{ Tags []string }
		link := getJSON(t, reg, "/v2/org/agent/tags/list?n=2", &page)
		if !slices.Equal(page.Tags, sorted[:2]) || link == "" {
			t.Errorf("tags?n=2 = %v (Link %q), want %v and a next link", page.Tags, link, sorted[:2])
		}
		getJSON(t, reg, linkPath(t, link), &page)
		if !slices.Equal(page.Tags, sorted[2:]) {
			t.Errorf("second tags page = %v, want %v", page.Tags, sorted[2:])
		}
	})

	t.Run("a page beyond the maximum is refused", func(t *testing.T) {
		resp, err := reg.Server.Client().Get(reg.Server.URL + "/v2/_catalog?n=" + "1001")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "PAGINATION_NUMBER_INVALID") {
			t.Errorf("catalog?n=1001: %d %s, want 400 PAGINATION_NUMBER_INVALID (distribution's default maximum is 1000)", resp.StatusCode, body)
		}
	})
}

// A configuration file that says nothing about the catalog gets the same
// defaults as one built from flags.
func TestCatalogWithConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "+dir+"\n")
	reg := testutil.NewRegistry(t, registry.WithConfigFile(cfg), registry.WithRoot(dir))
	img, _ := random.Image(64, 1)
	if err := remote.Write(testutil.Ref(t, reg.Host+"/from/file:v1"), img); err != nil {
		t.Fatal(err)
	}
	var page struct{ Repositories []string }
	getJSON(t, reg, "/v2/_catalog?n=100", &page)
	if !slices.Equal(page.Repositories, []string{"from/file"}) {
		t.Errorf("catalog = %v, want [from/file]", page.Repositories)
	}
}

func TestBlobsAreNotSniffed(t *testing.T) {
	reg := testutil.NewRegistry(t)
	resp, err := reg.Server.Client().Get(reg.Server.URL + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff as in distribution's shipped config", got)
	}
}
