package e2e

import "bytes"
import "fmt"
import "os"
import "path/filepath"
import "sort"
import "strings"

import "go.yaml.in/yaml/v3"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// confCase is one NN_name.expect.yaml of the conformance suite.
type confCase struct {
	File        string         `yaml:"-"` // the expect file's name
	Playbook    string         `yaml:"playbook"`
	Path        string         `yaml:"path"`
	Requires    []string       `yaml:"requires"`
	Credentials []any          `yaml:"credentials"`
	Runs        []confRun      `yaml:"runs"`
	Content     string         `yaml:"-"`
	Required    []string       `yaml:"-"` // contents of requires, in order
	Extra       map[string]any `yaml:",inline"`
}

type confRun struct {
	Name              string                    `yaml:"name"`
	Payload           map[string]any            `yaml:"payload"`
	WorkerEnv         map[string]any            `yaml:"worker_env"`
	Worker            map[string]map[string]any `yaml:"worker"`
	CancelWhenRunning string                    `yaml:"cancel_when_running"`
	Expect            confExpect                `yaml:"expect"`
	outcomes          map[string]scripted.Outcome
}

// confExpect holds every field the README defines. Fields the engine group cannot judge
// (db, audit: they need the tools group's scratch database and wallet) make the case fail
// instead of being skipped.
type confExpect struct {
	Status        string         `yaml:"status"`
	Commands      map[string]int `yaml:"commands"`
	NotRun        []string       `yaml:"not_run"`
	Skipped       []string       `yaml:"skipped"`
	Outputs       map[string]any `yaml:"outputs"`
	Before        [][]string     `yaml:"before"`
	MaxInFlight   map[string]int `yaml:"max_in_flight"`
	PeakInFlight  map[string]int `yaml:"peak_in_flight"`
	ErrorContains *string        `yaml:"error_contains"`
	DB            []any          `yaml:"db"`
	ToolArgs      map[string]any `yaml:"tool_args"`
	Audit         []any          `yaml:"audit"`
	AbsentText    []string       `yaml:"absent_text"`
	// Decisions is not a conformance field: the engine-shape cases
	// (testdata/engine-shapes/README.md) add the exact decision log.
	Decisions []string `yaml:"decisions"`
}

// loadConfCases reads every case of one group, sorted by file name, with the playbook
// bytes to register. Unknown keys are errors: a field the harness does not know is a
// field it would silently not judge.
func loadConfCases(dir string) ([]*confCase, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.expect.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*confCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		c := &confCase{File: filepath.Base(f)}
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("%s: %w", c.File, err)
		}
		if len(c.Extra) > 0 {
			return nil, fmt.Errorf("%s: unknown keys %v", c.File, sortedKeys(c.Extra))
		}
		content, err := os.ReadFile(filepath.Join(dir, c.Playbook))
		if err != nil {
			return nil, fmt.Errorf("%s: playbook: %w", c.File, err)
		}
		c.Content = string(content)
		for _, r := range c.Requires {
			rb, err := os.ReadFile(filepath.Join(dir, r))
			if err != nil {
				return nil, fmt.Errorf("%s: requires: %w", c.File, err)
			}
			c.Required = append(c.Required, string(rb))
		}
		names := map[string]bool{}
		for i := range c.Runs {
			r := &c.Runs[i]
			if r.Name == "" || names[r.Name] {
				return nil, fmt.Errorf("%s: run %d: missing or duplicate name %q", c.File, i, r.Name)
			}
			names[r.Name] = true
			switch r.Expect.Status {
			case "COMPLETED", "FAILED", "CANCELLED":
			default:
				return nil, fmt.Errorf("%s/%s: expect.status %q", c.File, r.Name, r.Expect.Status)
			}
			for _, b := range r.Expect.Before {
				if len(b) != 2 {
					return nil, fmt.Errorf("%s/%s: before entry %v is not a pair", c.File, r.Name, b)
				}
			}
			r.outcomes = map[string]scripted.Outcome{}
			for step, m := range r.Worker {
				o, err := scripted.OutcomeFromMap(m)
				if err != nil {
					return nil, fmt.Errorf("%s/%s: worker.%s: %w", c.File, r.Name, step, err)
				}
				r.outcomes[step] = o
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// caseName is the file's stem, for failure messages: "04_fanin".
func (c *confCase) caseName() string { return strings.TrimSuffix(c.File, ".expect.yaml") }
