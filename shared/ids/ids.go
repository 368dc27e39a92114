// Package ids mints application-side snowflake ids:
//
//	id = (ms since 2024-01-01T00:00:00Z) << 22 | machine_id << 12 | seq
//
// the layout upstream servers, workers and stored rows share.
package ids

import "errors"
import "fmt"
import "hash/fnv"
import "strconv"
import "sync"
import "time"

import "github.com/noetl/controlplane/shared/config"

const (
	// EpochMS is the NoETL epoch, 2024-01-01T00:00:00Z in Unix milliseconds.
	EpochMS = int64(1704067200000)
	// MaxMachineID is the largest 10-bit machine id.
	MaxMachineID = 1023
	seqMask      = 0xFFF
)

// Compose builds an id from its parts; exported for tests and tooling.
func Compose(unixMS int64, machine uint16, seq uint16) int64 {
	return (unixMS-EpochMS)<<22 | int64(machine&MaxMachineID)<<12 | int64(seq&seqMask)
}

// Parts splits an id into Unix milliseconds, machine id and sequence.
func Parts(id int64) (unixMS int64, machine uint16, seq uint16) {
	return id>>22 + EpochMS, uint16(id >> 12 & MaxMachineID), uint16(id & seqMask)
}

// Generator mints ids for one machine id. It is safe for concurrent use.
type Generator struct {
	machine int64
	now     func() int64 // Unix ms; replaceable in tests to step the clock back

	mu     sync.Mutex
	lastTS int64
	seq    int64
}

// NewGenerator returns a generator for the machine id (0..1023).
func NewGenerator(machine uint16) (*Generator, error) {
	if machine > MaxMachineID {
		return nil, fmt.Errorf("machine id %d does not fit in 10 bits (0-%d)", machine, MaxMachineID)
	}
	return &Generator{machine: int64(machine), now: func() int64 { return time.Now().UnixMilli() }}, nil
}

// MachineID is the generator's machine id.
func (g *Generator) MachineID() uint16 { return uint16(g.machine) }

// ErrClockBeforeEpoch means the wall clock reads earlier than 2024-01-01.
var ErrClockBeforeEpoch = errors.New("snowflake: system clock is before the NoETL epoch")

// Next mints an id. When the clock steps back the generator keeps using the last
// millisecond, so ids never go backwards; when the 12-bit sequence of a millisecond runs
// out it waits for the next millisecond instead of repeating an id.
func (g *Generator) Next() (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now() - EpochMS
	if now < 0 {
		return 0, ErrClockBeforeEpoch
	}
	if now < g.lastTS {
		now = g.lastTS
	}
	if now == g.lastTS {
		g.seq = (g.seq + 1) & seqMask
		if g.seq == 0 {
			for now <= g.lastTS {
				time.Sleep(50 * time.Microsecond)
				now = g.now() - EpochMS
			}
			g.lastTS = now
		}
	} else {
		g.lastTS = now
		g.seq = 0
	}
	return g.lastTS<<22 | g.machine<<12 | g.seq, nil
}

// MustNext is Next for callers that treat a pre-2024 clock as a fatal host problem.
func (g *Generator) MustNext() int64 {
	id, err := g.Next()
	if err != nil {
		panic(err)
	}
	return id
}

// MachineIDSource says where a machine id came from; it is logged once at startup.
type MachineIDSource string

// Derive picks the machine id: NOETL_SERVER_MACHINE_ID when set (explicit, and must be
// <= 1023), else FNV-1a-64 of HOSTNAME, else of COMPUTERNAME, else of a fixed local name,
// masked to 10 bits.
func Derive(explicit *uint64, hostname, computername string) (uint16, MachineIDSource, error) {
	if explicit != nil {
		if *explicit > MaxMachineID {
			return 0, "", fmt.Errorf("NOETL_SERVER_MACHINE_ID: %d does not fit in 10 bits (0-%d)", *explicit, MaxMachineID)
		}
		return uint16(*explicit), "NOETL_SERVER_MACHINE_ID", nil
	}
	switch {
	case hostname != "":
		return HashMachineID(hostname), "derived from HOSTNAME", nil
	case computername != "":
		return HashMachineID(computername), "derived from COMPUTERNAME", nil
	default:
		return HashMachineID("noetl-server-local"), "derived from default name noetl-server-local", nil
	}
}

// HashMachineID is FNV-1a-64 of s masked to 10 bits.
func HashMachineID(s string) uint16 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return uint16(h.Sum64() & MaxMachineID)
}

// Format renders an id in decimal, the form ids take in JSON strings.
func Format(id int64) string { return strconv.FormatInt(id, 10) }

// Config is the machine-id section of the environment.
type Config struct {
	MachineID config.OptionalUint `env:"NOETL_SERVER_MACHINE_ID"`
	// MachineIDOffset is added to MachineID. Kubernetes can hand a pod its ordinal but
	// not do arithmetic on it: two StatefulSets (api, wallet) would both start at 0, so
	// each gets its own range by offset.
	MachineIDOffset uint64 `env:"NOETL_SERVER_MACHINE_ID_OFFSET"`
	Hostname        string `env:"HOSTNAME"`
	ComputerName    string `env:"COMPUTERNAME"`
}

// Validate is the fail-fast rule: an explicit machine id must fit in 10 bits.
func (c Config) Validate() error {
	_, _, err := c.Resolve()
	return err
}

// Resolve returns the machine id and where it came from.
func (c Config) Resolve() (uint16, MachineIDSource, error) {
	var explicit *uint64
	if c.MachineID.Set {
		sum := c.MachineID.Value + c.MachineIDOffset
		if sum > MaxMachineID || sum < c.MachineIDOffset {
			return 0, "", fmt.Errorf("NOETL_SERVER_MACHINE_ID + NOETL_SERVER_MACHINE_ID_OFFSET: %d + %d does not fit in 10 bits (0-%d)", c.MachineID.Value, c.MachineIDOffset, MaxMachineID)
		}
		explicit = &sum
	} else if c.MachineIDOffset != 0 {
		return 0, "", errors.New("NOETL_SERVER_MACHINE_ID_OFFSET: applies to NOETL_SERVER_MACHINE_ID, which is not set")
	}
	m, src, err := Derive(explicit, c.Hostname, c.ComputerName)
	if err == nil && c.MachineIDOffset != 0 {
		src = "NOETL_SERVER_MACHINE_ID + NOETL_SERVER_MACHINE_ID_OFFSET"
	}
	return m, src, err
}

// NewFromConfig resolves the machine id and returns a generator plus the id's source.
func NewFromConfig(c Config) (*Generator, MachineIDSource, error) {
	m, src, err := c.Resolve()
	if err != nil {
		return nil, "", err
	}
	g, err := NewGenerator(m)
	return g, src, err
}
