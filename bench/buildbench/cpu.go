package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// procCPU is the user and system time process pid has used, with that of
// the children it has waited for (runc, and the build steps under it), read
// from /proc; -1 where there is no /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces) start at field
	// 3; utime, stime, cutime, cstime are fields 14 to 17, in USER_HZ (100/s).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return -1
	}
	var total int64
	for _, i := range []int{11, 12, 13, 14} {
		var v int64
		fmt.Sscan(f[i], &v)
		total += v
	}
	return time.Duration(total) * (time.Second / 100)
}
