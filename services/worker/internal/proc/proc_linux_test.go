package proc

import "context"
import "fmt"
import "io"
import "os"
import "os/exec"
import "path/filepath"
import "strconv"
import "strings"
import "syscall"
import "testing"
import "time"

// helperEnv makes the test binary act as a worker in the tests below: they need a
// process of their own (a user that is not root, a subreaper).
const helperEnv = "NOETL_PROC_TEST_HELPER"

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER, which package syscall does not name.
const prSetChildSubreaper = 36

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "environ":
		if err := HideEnvironment(); err != nil {
			fmt.Println("HideEnvironment:", err)
			os.Exit(2)
		}
		out := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "cat /proc/$PPID/environ"}, Env: Environ(nil), Timeout: 10 * time.Second})
		fmt.Printf("exit %d\n%s\n%s", out.ExitCode, out.Stdout, out.Stderr)
		os.Exit(0)
	case "zombies":
		// As PID 1 of a container is: the processes a step leaves behind become ours.
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
			fmt.Println("PR_SET_CHILD_SUBREAPER:", errno)
			os.Exit(2)
		}
		out := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "sleep 30 & sleep 30 & echo started"}, Env: Environ(nil), Timeout: 10 * time.Second})
		if out.ExitCode != 0 || out.Stdout != "started\n" {
			fmt.Printf("the step failed: %d %q %q\n", out.ExitCode, out.Stdout, out.Stderr)
			os.Exit(2)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			left := children()
			if len(left) == 0 {
				os.Exit(0)
			}
			if time.Now().After(deadline) {
				fmt.Println("children left behind:", strings.Join(left, ", "))
				os.Exit(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// children lists this process's children ("pid state"), zombies included.
func children() []string {
	var out []string
	self := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its last ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == self {
			out = append(out, e.Name()+" "+f[0])
		}
	}
	return out
}

// helper runs the test binary as a worker in mode; as root it runs as nobody, since
// root reads every process's /proc entries whatever they allow.
func helper(t *testing.T, mode string, env ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	if os.Getuid() == 0 {
		// nobody must be able to run the binary: a copy in a directory it can enter.
		dir, err := os.MkdirTemp("", "noetl-proc-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd.Path = filepath.Join(dir, "proc.test")
		if err := copyFile(exe, cmd.Path); err != nil {
			t.Fatal(err)
		}
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", mode, err, out)
	}
	return string(out)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// A step's process runs as the worker's user; Environ keeps the worker's token out of
// its environment, and the worker's own /proc/<pid>/environ must not hand it over
// either.
func TestAStepCannotReadTheWorkersEnvironment(t *testing.T) {
	t.Parallel()
	const token = "worker-token-7f3a9c"
	out := helper(t, "environ", "NOETL_WORKER_TOKEN="+token)
	if strings.Contains(out, token) {
		t.Fatalf("the step read the worker's token from /proc/$PPID/environ:\n%s", out)
	}
	if !strings.Contains(out, "exit 1") {
		t.Fatalf("cat /proc/$PPID/environ did not fail:\n%s", out)
	}
}

// A step that leaves processes running (`sleep 30 &`) has them killed with its group;
// when they were handed to the worker (PID 1 of its container), the worker reaps them.
func TestKilledLeftoversAreReaped(t *testing.T) {
	t.Parallel()
	helper(t, "zombies")
}
