package buildkit

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/platform"
)

// BinfmtDir is where the kernel lists binfmt_misc handlers.
var BinfmtDir = "/proc/sys/fs/binfmt_misc"

// qemuHandlers names the binfmt_misc entry of each architecture, as
// Debian's qemu-user-static registers them.
var qemuHandlers = map[string]string{
	"amd64": "qemu-x86_64", "386": "qemu-i386", "arm64": "qemu-aarch64", "arm": "qemu-arm",
	"ppc64le": "qemu-ppc64le", "ppc64": "qemu-ppc64", "s390x": "qemu-s390x", "riscv64": "qemu-riscv64",
	"mips64le": "qemu-mips64el", "mips64": "qemu-mips64", "loong64": "qemu-loongarch64",
}

// EmulationError says why a platform cannot be emulated and what to do.
type EmulationError struct {
	Platform string
	Reason   string
	Fix      string
}

func (e *EmulationError) Error() string {
	return fmt.Sprintf("%s cannot be emulated on this machine: %s; %s", e.Platform, e.Reason, e.Fix)
}

const installFix = "install it: apt-get install qemu-user-static binfmt-support (scripts/setup.sh does this)"

// CheckEmulation reports whether this machine can run containers of p:
// linux ones only, natively or through a QEMU binfmt_misc handler that works
// inside containers (the F flag: the interpreter is opened at registration,
// not looked up in the container's root).
func CheckEmulation(p v1.Platform) error {
	p = platform.Normalize(p)
	host := HostPlatform()
	if p.OS != host.OS {
		return &EmulationError{Platform: platform.Format(p), Reason: "the local node runs " + host.OS + " containers only",
			Fix: "build it on a builder node that runs " + p.OS + " natively (builders: in polyarch.yaml)"}
	}
	if p.Architecture == host.Architecture || (host.Architecture == "amd64" && p.Architecture == "386") || (host.Architecture == "arm64" && p.Architecture == "arm") {
		return nil
	}
	name := platform.Format(p)
	handler, ok := qemuHandlers[p.Architecture]
	if !ok {
		return &EmulationError{Platform: name, Reason: "polyarch knows no QEMU handler for " + p.Architecture, Fix: "build it on a native builder node"}
	}
	if _, err := os.Stat(filepath.Join(BinfmtDir, "status")); err != nil {
		return &EmulationError{Platform: name, Reason: "binfmt_misc is not mounted", Fix: "mount it: mount -t binfmt_misc binfmt_misc " + BinfmtDir + " && update-binfmts --enable"}
	}
	f, err := os.Open(filepath.Join(BinfmtDir, handler))
	if err != nil {
		return &EmulationError{Platform: name, Reason: "no binfmt_misc handler " + handler, Fix: installFix}
	}
	defer f.Close()
	enabled, fixBinary := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "enabled" {
			enabled = true
		}
		if flags, ok := strings.CutPrefix(line, "flags: "); ok && strings.Contains(flags, "F") {
			fixBinary = true
		}
	}
	if !enabled {
		return &EmulationError{Platform: name, Reason: "binfmt_misc handler " + handler + " is disabled", Fix: "enable it: update-binfmts --enable " + handler}
	}
	if !fixBinary {
		return &EmulationError{Platform: name, Reason: "binfmt_misc handler " + handler + " lacks the F flag, so it cannot run inside containers", Fix: installFix}
	}
	return nil
}
