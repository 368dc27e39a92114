package playbook

import "fmt"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// benchPlaybook writes a playbook of n steps in the shapes real playbooks use: python,
// http and postgres tools with templated inputs, routers with conditions, a loop, a
// pipeline every tenth step.
func benchPlaybook(n int) string {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("workload:\n  base_url: http://localhost:8082\n  pg_auth: pg_local\n  items: [1, 2, 3]\n")
	b.WriteString("keychain:\n  - name: api\n    provider: gcp\n    region: eu-west1\n    residency: advisory\n")
	b.WriteString("workflow:\n")
	name := func(i int) string {
		if i == 0 {
			return "start"
		}
		if i == n-1 {
			return "end"
		}
		return fmt.Sprintf("step_%02d", i)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - step: %s\n    desc: step number %d\n", name(i), i)
		switch {
		case i%10 == 5:
			b.WriteString("    tool:\n      - fetch:\n          kind: http\n          method: GET\n          url: \"{{ workload.base_url }}/api/items\"\n")
			b.WriteString("      - name: store\n        kind: postgres\n        auth: \"{{ workload.pg_auth }}\"\n        command: \"insert into t values ({{ _prev.count }})\"\n")
		case i%10 == 7:
			b.WriteString("    loop:\n      in: \"{{ workload.items }}\"\n      iterator: item\n      spec: {mode: parallel, max_in_flight: 2}\n")
			b.WriteString("    tool:\n      kind: python\n      input: {x: \"{{ iter.item }}\"}\n      code: |\n        result = {\"x\": x * 2}\n")
		default:
			fmt.Fprintf(&b, "    tool:\n      kind: python\n      input:\n        prev: \"{{ %s.value | default(0) }}\"\n        n: %d\n      code: |\n        result = {\"value\": prev + n}\n", name(max(i-1, 0)), i)
		}
		if i < n-1 {
			if i+2 < n {
				fmt.Fprintf(&b, "    next:\n      spec: {mode: exclusive}\n      arcs:\n        - step: %s\n          when: \"{{ %s.value > 1000 }}\"\n        - step: %s\n", name(i+2), name(i), name(i+1))
			} else {
				fmt.Fprintf(&b, "    next: %s\n", name(i+1))
			}
		}
	}
	return b.String()
}

// BenchmarkParse50 parses and validates a 50-step playbook. Target: under 1 ms.
func BenchmarkParse50(b *testing.B) {
	src := []byte(benchPlaybook(50))
	if _, err := Parse(src); err != nil {
		b.Fatal(err)
	}
	benchParse(b, src, parseOnly)
}

// parseOnly is Parse for benchParse.
func parseOnly(src []byte) error {
	_, err := Parse(src)
	return err
}

// benchParse runs parse over src b.N times and reports the bytes, allocations, CPU
// time and µs of one parse.
func benchParse(b *testing.B, src []byte, parse func([]byte) error) {
	b.Helper()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testkit.ProcessCPU()
	for i := 0; i < b.N; i++ {
		if err := parse(src); err != nil {
			b.Fatal(err)
		}
	}
	testkit.ReportCPU(b, cpu, "cpu-µs/parse")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/parse")
}

// BenchmarkParse50YAMLOnly is the floor under BenchmarkParse50: the YAML library
// reading the same 18 KB into its node tree, before any of this package's work.
func BenchmarkParse50YAMLOnly(b *testing.B) {
	benchParse(b, []byte(benchPlaybook(50)), func(src []byte) error {
		_, err := parseYAML(src)
		return err
	})
}

func TestBenchPlaybookIsValid(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(benchPlaybook(50)))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Workflow) != 50 {
		t.Fatalf("%d steps", len(p.Workflow))
	}
}

// compactPlaybook is a 50-step chain in the style of the conformance playbooks: noop
// tools with a templated result and a router per step (about 150 bytes a step).
func compactPlaybook(n int) string {
	var b strings.Builder
	b.WriteString(header + "workload:\n  x: 1\nworkflow:\n")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s%02d", i)
		if i == 0 {
			name = "start"
		}
		fmt.Fprintf(&b, "  - step: %s\n    tool:\n      kind: noop\n      result: {v: \"{{ workload.x + %d }}\"}\n", name, i)
		if i < n-1 {
			fmt.Fprintf(&b, "    next:\n      spec: {mode: exclusive}\n      arcs:\n        - step: s%02d\n", i+1)
		}
	}
	return b.String()
}

// BenchmarkParse50Compact parses and validates a compact 50-step playbook.
func BenchmarkParse50Compact(b *testing.B) {
	src := []byte(compactPlaybook(50))
	if _, err := Parse(src); err != nil {
		b.Fatal(err)
	}
	benchParse(b, src, parseOnly)
}
