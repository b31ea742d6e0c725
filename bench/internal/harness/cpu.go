package harness

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// ProcCPU is the user and system time process pid has used so far, read
// from /proc; -1 where there is no /proc.
func ProcCPU(pid int) time.Duration {
	return statTicks(pid, 11, 12) // utime, stime
}

// ProcCPUWithChildren is ProcCPU plus the time of the children pid has
// waited for (for buildkitd: runc and the build steps under it).
func ProcCPUWithChildren(pid int) time.Duration {
	return statTicks(pid, 11, 12, 13, 14) // utime, stime, cutime, cstime
}

// statTicks sums the given fields of /proc/PID/stat, counted from the one
// after the command name, and converts them from USER_HZ (100/s).
func statTicks(pid int, fields ...int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) may hold spaces; what follows its closing
	// parenthesis is field 3 onwards, so utime (field 14) is f[11].
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	var total int64
	for _, i := range fields {
		if i >= len(f) {
			return -1
		}
		var v int64
		fmt.Sscan(f[i], &v)
		total += v
	}
	return time.Duration(total) * (time.Second / 100)
}
