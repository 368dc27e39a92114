package e2e

import "fmt"
import "os"
import "strconv"
import "strings"
import "time"

// figure prints one result in the form scripts/bench.sh collects for its summary.
func figure(name string, v float64) {
	fmt.Printf("figure: %s %.3f\n", name, v)
}

// cpuMeter measures the CPU each process of a benchmark used between start and stop:
// the suite's router and api, the machine's PostgreSQL and NATS servers (every process
// of that name: other work on the machine counts too), and this load generator.
type cpuMeter struct {
	begin time.Time
	procs []cpuProc
}

// cpuProc is one process, or every process of a name: those are looked up again at the
// end, so backends PostgreSQL forked meanwhile count from zero.
type cpuProc struct {
	name  string
	find  func() []int
	start map[int]time.Duration
}

// cpuSplit is what a cpuMeter measured.
type cpuSplit struct {
	elapsed time.Duration
	used    []cpuUsed
}

type cpuUsed struct {
	name string
	cpu  time.Duration
}

func startCPUMeter(s *Suite) *cpuMeter {
	m := &cpuMeter{begin: time.Now()}
	add := func(name string, find func() []int) {
		p := cpuProc{name: name, find: find, start: map[int]time.Duration{}}
		for _, pid := range find() {
			p.start[pid] = procCPU(pid)
		}
		m.procs = append(m.procs, p)
	}
	pid := func(n int) func() []int { return func() []int { return []int{n} } }
	add("router", pid(s.Router.cmd.Process.Pid))
	add("api", pid(s.API.cmd.Process.Pid))
	// Only the backends serving this suite's api: the machine's PostgreSQL may be busy
	// with other work. (Its shared background processes, the WAL writer among them, are
	// left out.)
	apiPid := s.API.cmd.Process.Pid
	add("postgres", func() []int { return backendsOf(apiPid) })
	add("nats", func() []int { return pidsNamed("nats-server") })
	add("loadgen", pid(os.Getpid()))
	return m
}

func (m *cpuMeter) stop() cpuSplit {
	out := cpuSplit{elapsed: time.Since(m.begin)}
	for _, p := range m.procs {
		var used time.Duration
		for _, pid := range p.find() {
			used += procCPU(pid) - p.start[pid]
		}
		out.used = append(out.used, cpuUsed{name: p.name, cpu: used})
	}
	return out
}

// print writes each process's share of a core and its CPU per unit of work.
func (s cpuSplit) print(bench string, units int64, unit string) {
	if units <= 0 {
		return
	}
	var total time.Duration
	for _, u := range s.used {
		total += u.cpu
		fmt.Printf("%s cpu: %-8s %4.0f%% of one core, %.3f ms per %s\n", bench, u.name,
			100*u.cpu.Seconds()/s.elapsed.Seconds(), 1000*u.cpu.Seconds()/float64(units), unit)
	}
	fmt.Printf("%s cpu: %-8s %4.0f%% of one core, %.3f ms per %s\n", bench, "all", 100*total.Seconds()/s.elapsed.Seconds(),
		1000*total.Seconds()/float64(units), unit)
}

// pidsNamed lists the processes whose command name is name (Linux /proc).
func pidsNamed(name string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == name {
			out = append(out, pid)
		}
	}
	return out
}

// backendsOf lists the PostgreSQL backends connected to a process: the local ports of
// its TCP sockets, matched against the client port each backend shows in its title
// ("postgres: user db 127.0.0.1(port) ...").
func backendsOf(pid int) []int {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	ports := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			if i := strings.LastIndexByte(f[1], ':'); i >= 0 {
				if port, err := strconv.ParseInt(f[1][i+1:], 16, 32); err == nil {
					ports[fmt.Sprintf("(%d)", port)] = true
				}
			}
		}
	}
	var out []int
	for _, p := range pidsNamed("postgres") {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err != nil {
			continue
		}
		title := string(cmdline)
		if i := strings.IndexByte(title, ')'); i > 0 {
			if j := strings.LastIndexByte(title[:i], '('); j >= 0 && ports[title[j:i+1]] {
				out = append(out, p)
			}
		}
	}
	return out
}
