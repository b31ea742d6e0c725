// Command builder-info prints what a maistra-builder image holds: the tool
// versions it was built with (/etc/maistra-builder/versions) and its Go
// toolchain. The builder's Go toolchain stage cross-compiles it for each
// platform.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

func main() {
	b, err := os.ReadFile("/etc/maistra-builder/versions")
	if err != nil {
		fmt.Fprintln(os.Stderr, "builder-info:", err)
		os.Exit(1)
	}
	fmt.Print(string(b))
	goVersion := "none"
	if v, err := os.ReadFile("/usr/local/go/VERSION"); err == nil {
		goVersion, _, _ = strings.Cut(string(v), "\n")
	}
	fmt.Printf("toolchain %s; builder-info %s %s/%s\n", goVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
