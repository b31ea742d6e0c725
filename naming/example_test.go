package naming_test

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/naming"
)

func ExampleParse() {
	tmpl, err := naming.Parse(`reg/org/agent-{{.Arch}}:{{trimPrefix "v" .Version}}`)
	if err != nil {
		panic(err)
	}
	refs, err := tmpl.ForPlatforms([]v1.Platform{{OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}},
		func(d *naming.Data) { d.Version = "v1.4" })
	fmt.Println(refs, err)

	// A template is user input: what could loop or allocate is refused.
	_, err = naming.Parse("reg/org/agent-{{.Arch}}:{{range 3000000000}}{{end}}")
	fmt.Println(err)
	// Output:
	// [reg/org/agent-arm64:1.4 reg/org/agent-arm:1.4] <nil>
	// template "reg/org/agent-{{.Arch}}:{{range 3000000000}}{{end}}": {{range}} is not allowed in a naming template
}
