//go:build unix

package testkit

import "syscall"
import "time"

// ProcessCPU is the CPU time the process has used (user + system, every thread,
// including the garbage collector's).
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
