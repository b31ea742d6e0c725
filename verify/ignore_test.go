package verify

import "testing"

func TestIgnoreGlobs(t *testing.T) {
	tests := []struct {
		glob string
		path string
		want bool
	}{
		{"usr/share/qemu/*", "usr/share/qemu/qemu-aarch64", true},
		{"usr/share/qemu/*", "usr/share/qemu/sub/x", true}, // beneath a matched directory
		{"usr/share/qemu/*", "usr/share/qemu", false},
		{"usr/share/qemu/*", "usr/share/qemux/x", false},
		{"/usr/bin/app", "usr/bin/app", true},
		{"./usr/bin/app", "usr/bin/app", true},
		{"usr/bin/app", "usr/bin/app2", false},
		{"usr/bin", "usr/bin/app", true},
		{"usr/local/go/src/**/testdata", "usr/local/go/src/debug/elf/testdata/x.obj", true},
		{"usr/local/go/src/**/testdata", "usr/local/go/src/testdata/x", true}, // ** is zero directories too
		{"usr/local/go/src/**/testdata", "usr/local/go/pkg/testdata/x", false},
		{"**/*.ko", "lib/modules/6.1/kernel/fs/x.ko", true},
		{"**/*.ko", "x.ko", true},
		{"**/*.ko", "lib/x.kom", false},
		{"lib/**", "lib/a/b", true},
		{"lib/**", "usr/lib/a", false},
		{"u?r/b[a-i]n/*", "usr/bin/app", true},
	}
	for _, tc := range tests {
		p, err := compilePattern(tc.glob)
		if err != nil {
			t.Fatalf("%q: %v", tc.glob, err)
		}
		if got := matchAny([]pattern{p}, tc.path); got != tc.want {
			t.Errorf("%q matches %q: %v, want %v", tc.glob, tc.path, got, tc.want)
		}
	}
	for _, bad := range []string{"", "/", ".", "usr/[bin"} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("glob %q compiled, want an error", bad)
		}
	}
}
