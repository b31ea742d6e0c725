// Command hello stands in for upstream Istio in the builder example: the
// job of its test spec builds it inside the builder on every platform, as
// Maistra tries "a build of pure upstream Istio using the image".
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	host, _ := os.Hostname()
	fmt.Printf("istio hello: built and run by %s on %s/%s (%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, host)
}
