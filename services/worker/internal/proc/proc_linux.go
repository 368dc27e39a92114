package proc

import "syscall"

// sysProcAttr puts the child in a process group of its own (a kill reaches everything
// it starts) and, with Pdeathsig, kills it when the worker is killed outright: a command
// the worker never reported cannot also finish behind the back of the worker that runs
// it again.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
