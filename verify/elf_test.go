package verify

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

// TestParseELFAgreesWithDebugELF reads the host's own binaries both ways.
func TestParseELFAgreesWithDebugELF(t *testing.T) {
	var paths []string
	for _, glob := range []string{"/bin/ls", "/usr/bin/*", "/usr/lib/*/*.so*"} {
		m, _ := filepath.Glob(glob)
		paths = append(paths, m...)
	}
	checked := 0
	for _, p := range paths {
		f, err := elf.Open(p)
		if err != nil {
			continue // not ELF, or not readable
		}
		head := make([]byte, elfHeaderLen)
		r, err := os.Open(p)
		if err != nil {
			f.Close()
			continue
		}
		_, err = r.Read(head)
		r.Close()
		id, ok := parseELF(head)
		if err != nil || !ok || id.class != f.Class || id.data != f.Data || id.machine != f.Machine {
			t.Errorf("%s: parseELF = %v, %v; debug/elf says %v %v %v", p, id, ok, f.Class, f.Data, f.Machine)
		}
		f.Close()
		if checked++; checked == 200 {
			break
		}
	}
	if checked == 0 {
		t.Skip("no ELF files on this host")
	}
	t.Logf("checked %d host ELF files", checked)
}
