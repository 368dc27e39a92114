package proc

import "errors"
import "syscall"

// sysProcAttr puts the child in a process group of its own (a kill reaches everything
// it starts) and, with Pdeathsig, kills it when the worker is killed outright: a command
// the worker never reported cannot also finish behind the back of the worker that runs
// it again.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// HideEnvironment makes the worker's /proc entries (environ, mem, ...) unreadable to
// the processes of its user. The tools' processes run as that user: without it a step
// read the worker's token with `cat /proc/$PPID/environ`, whatever Environ kept out of
// its own environment. It also turns off core dumps of the worker, which would hold
// the same secrets.
func HideEnvironment() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// reapGroup collects the members of the process group pgid that are this process's
// children once the group was killed. The worker is PID 1 in its container: what a
// step left running (`sleep 30 &`) becomes its child when the step's process ends, and
// a killed child that nobody waits for stays a zombie, one more per such step until the
// pid limit stops every step. Elsewhere they are init's, and there is nothing to do.
func reapGroup(pgid int) {
	go func() {
		for {
			var ws syscall.WaitStatus
			_, err := syscall.Wait4(-pgid, &ws, 0, nil)
			if err != nil && !errors.Is(err, syscall.EINTR) {
				return // ECHILD: none left
			}
		}
	}()
}
