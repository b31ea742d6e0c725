package naming_test

import (
	"strings"
	"testing"

	"github.com/polyarch/polyarch/naming"
)

// go-containerregistry parses tags the registry refuses (-bad, x-): CheckTag
// holds a reference to the distribution grammar too, before anything is pushed.
func TestCheckTag(t *testing.T) {
	for ref, want := range map[string]string{
		"r.example/org/agent:-bad":                               `tag "-bad": `,
		"r.example/org/agent:.bad":                               `tag ".bad": `,
		"r.example/org/agent:a b":                                `a b`,
		"r.example/org/agent:" + strings.Repeat("a", 129):        "tag",
		"r.example/org/agent-:1":                                 `repository "r.example/org/agent-"`,
		"r.example/org/a..b:1":                                   `repository "r.example/org/a..b"`,
		"r.example/Org/agent:1":                                  "Org",
		"r.example/" + strings.Repeat("abcdefghij/", 25) + "x:1": "255",
		"": "empty",
	} {
		if _, err := naming.CheckTag(ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckTag(%q) = %v, want an error containing %q", ref, err, want)
		}
	}
	for _, ref := range []string{"r.example/org/agent:v1.4.0", "127.0.0.1:5000/a__b/c-d:_x.y-Z", "localhost/agent:" + strings.Repeat("a", 128)} {
		tag, err := naming.CheckTag(ref)
		if err != nil {
			t.Errorf("CheckTag(%q): %v", ref, err)
		} else if tag.String() != ref {
			t.Errorf("CheckTag(%q) = %s", ref, tag)
		}
	}
}
