// Command gobuild prints the SHA-256 of files, as text, JSON or a template
// of the user's: the program the gobuild example builds for every platform,
// cross-compiled (Dockerfile) and compiled under emulation
// (Dockerfile.emulated).
//
//	gobuild [--json | --format TEMPLATE] FILE...
//	gobuild --version
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/template"
)

// version is set at build time: -ldflags "-X main.version=1.0".
var version = "dev"

// sum is one file's checksum.
type sum struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func main() {
	showVersion := flag.Bool("version", false, "print the version and platform")
	asJSON := flag.Bool("json", false, "print JSON")
	format := flag.String("format", "{{.SHA256}}  {{.File}}\n", "Go template for each file")
	flag.Parse()
	if *showVersion {
		fmt.Printf("gobuild %s %s/%s\n", version, runtime.GOOS, runtime.GOARCH)
		return
	}
	tmpl, err := template.New("format").Parse(*format)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobuild: --format:", err)
		os.Exit(2)
	}
	var sums []sum
	for _, f := range flag.Args() {
		s, err := checksum(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gobuild:", err)
			os.Exit(1)
		}
		sums = append(sums, s)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sums)
		return
	}
	for _, s := range sums {
		if err := tmpl.Execute(os.Stdout, s); err != nil {
			fmt.Fprintln(os.Stderr, "gobuild:", err)
			os.Exit(1)
		}
	}
}

func checksum(path string) (sum, error) {
	f, err := os.Open(path)
	if err != nil {
		return sum{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sum{}, fmt.Errorf("%s: %w", path, err)
	}
	return sum{File: path, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
