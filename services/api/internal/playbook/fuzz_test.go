package playbook

import "errors"
import "os"
import "path/filepath"
import "testing"

// FuzzParse: no input panics the parser, and every failure is a *ParseError, a
// *ValidationError or a *LimitError (what the HTTP layer maps to 400, 422 and 422).
func FuzzParse(f *testing.F) {
	f.Add([]byte(pb(okStart)))
	f.Add([]byte(compactPlaybook(3)))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("- [\n"))
	f.Add([]byte(header + "workflow:\n  - <<: {step: start}\n    tool: [{a: {kind: noop}}, {kind: noop, name: b}]\n"))
	// A few small suite playbooks: large seeds make the fuzzer spend its time
	// minimizing instead of exploring.
	for _, name := range []string{"engine/15_branch_without_next.yaml", "engine/17_workbook.yaml", "engine/18_pipeline_flatten.yaml"} {
		if src, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "testdata", "conformance", name)); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse(src)
		if err == nil {
			if p.Start() == nil {
				t.Fatal("a valid playbook without start")
			}
			return
		}
		var pe *ParseError
		var ve *ValidationError
		var le *LimitError
		if !errors.As(err, &pe) && !errors.As(err, &ve) && !errors.As(err, &le) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	})
}
