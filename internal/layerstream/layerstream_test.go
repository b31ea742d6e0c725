package layerstream

import "testing"

func TestPath(t *testing.T) {
	for in, want := range map[string]string{"./usr/bin/app": "usr/bin/app", "/usr/bin/app": "usr/bin/app", "usr//bin/../bin/app": "usr/bin/app", "../../etc/x": "etc/x", "./": ""} {
		if got := Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
}
