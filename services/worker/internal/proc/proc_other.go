//go:build !linux

package proc

import "syscall"

// sysProcAttr puts the child in a process group of its own. Only Linux can also tie the
// child's life to the worker's (see proc_linux.go).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// HideEnvironment does nothing here (see proc_linux.go).
func HideEnvironment() error { return nil }

// reapGroup does nothing here (see proc_linux.go).
func reapGroup(int) {}
