package playbook

import "crypto/sha256"
import "encoding/hex"
import "os"
import "path/filepath"
import "runtime"
import "strings"
import "testing"

// conformanceDir is the repo's copy of the conformance suite (testdata/conformance at
// the repository root), so that a clone stands alone without the handbook beside it.
func conformanceDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "testdata", "conformance")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("conformance suite not found at %s: %v", dir, err)
	}
	return dir
}

// TestConformancePlaybooksParse: every playbook of the suite parses and validates, and
// the facts the engine relies on come out right.
func TestConformancePlaybooksParse(t *testing.T) {
	t.Parallel()
	dir := conformanceDir(t)
	var files []string
	for _, group := range []string{"engine", "tools"} {
		matches, err := filepath.Glob(filepath.Join(dir, group, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if !strings.HasSuffix(m, ".expect.yaml") {
				files = append(files, m)
			}
		}
	}
	if len(files) < 40 {
		t.Fatalf("found only %d playbooks", len(files))
	}
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pb, err := Parse(src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			group := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
			if !strings.HasPrefix(pb.Metadata.Path, "conformance/"+group+"/") {
				t.Errorf("metadata.path %q is not under conformance/%s/", pb.Metadata.Path, group)
			}
			if pb.Start() == nil {
				t.Fatal("no start step")
			}
			for _, s := range pb.Workflow {
				if s.Tool.Kind() == "" {
					t.Errorf("step %s: empty tool kind", s.Name)
				}
				for _, a := range arcsOf(s) {
					if pb.Step(a.Step) == nil {
						t.Errorf("step %s: arc to unknown %s", s.Name, a.Step)
					}
				}
			}
		})
	}
}

func arcsOf(s *Step) []Arc {
	if s.Next == nil {
		return nil
	}
	return s.Next.Arcs
}

func mustParseFile(t *testing.T, rel string) *Playbook {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(conformanceDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return pb
}

func TestConformanceDetails(t *testing.T) {
	t.Parallel()
	// loops
	seq := mustParseFile(t, "engine/06_loop_sequential.yaml").Step("double")
	if seq.Loop == nil || seq.Loop.In != "{{ workload.numbers }}" || seq.Loop.Iterator != "v" || seq.Loop.Mode != LoopSequential {
		t.Errorf("06 loop: %+v", seq.Loop)
	}
	par := mustParseFile(t, "engine/07_loop_parallel_cap.yaml").Step("fan")
	if par.Loop.Mode != LoopParallel || par.Loop.MaxInFlight != 2 {
		t.Errorf("07 loop: %+v", par.Loop)
	}
	if def := mustParseFile(t, "engine/08_loop_empty.yaml").Step("each"); def.Loop.Mode != LoopSequential || def.Loop.MaxInFlight != 0 {
		t.Errorf("08 default loop mode: %+v", def.Loop)
	}
	// routing modes and arcs
	fan := mustParseFile(t, "engine/04_fanin.yaml").Step("start")
	if fan.Next.Shape != NextRouter || fan.RoutingMode() != ModeInclusive || len(fan.Next.Arcs) != 3 {
		t.Errorf("04 start next: %+v", fan.Next)
	}
	if fan.Next.Arcs[1].When != "{{ start.n > 0 }}" || fan.Next.Arcs[0].When != "" {
		t.Errorf("04 arcs: %+v", fan.Next.Arcs)
	}
	// step set, arc set and args
	ctx := mustParseFile(t, "engine/11_ctx_set.yaml")
	st := ctx.Step("start")
	if st.Set["ctx.total"] != "{{ output.base + 5 }}" || st.Set["mode"] != "from_step" {
		t.Errorf("11 step set: %#v", st.Set)
	}
	arc := st.Next.Arcs[0]
	if arc.Set["hint"] != "{{ start.base * 3 }}" || arc.Args["origin"] != "via_args" {
		t.Errorf("11 arc: %#v", arc)
	}
	// on_error
	if risky := mustParseFile(t, "engine/14_on_error_continue.yaml").Step("risky"); !risky.Spec.ContinueOnError() {
		t.Errorf("14 on_error: %+v", risky.Spec)
	}
	// workbook resolution
	wb := mustParseFile(t, "engine/17_workbook.yaml")
	start := wb.Step("start").Tool.Single
	if start.Kind != KindNoop || start.Workbook != "greet" {
		t.Fatalf("17 start tool: %+v", start)
	}
	if in := start.Input.(map[string]any); in["who"] != "{{ workload.word }}" || in["punct"] != "!" {
		t.Errorf("17 merged input: %#v", in)
	}
	if r := start.Raw["result"].(map[string]any); r["source"] != "workbook" {
		t.Errorf("17 raw tool: %#v", start.Raw)
	}
	if start.Raw["name"] != nil {
		t.Errorf("17 the referencing tool's name must not survive: %#v", start.Raw)
	}
	if again := wb.Step("again").Tool.Single; again.Input.(map[string]any)["who"] != "nobody" {
		t.Errorf("17 entry input kept: %#v", again.Input)
	}
	// pipelines, both item shapes, label order
	pipe := mustParseFile(t, "engine/18_pipeline_flatten.yaml").Step("start")
	if !pipe.Tool.IsPipeline() || pipe.Tool.Kind() != KindTaskSequence {
		t.Fatalf("18: not a pipeline")
	}
	if got := pipe.Tool.Labels(); len(got) != 2 || got[0] != "loader" || got[1] != "check" {
		t.Errorf("18 labels: %v", got)
	}
	if pipe.Tool.Pipeline[0].Flat || !pipe.Tool.Pipeline[1].Flat {
		t.Errorf("18 item shapes: %+v", pipe.Tool.Pipeline)
	}
	cfg := pipe.Tool.Config().([]any)
	if _, ok := cfg[1].(map[string]any)["check"].(map[string]any)["name"]; ok {
		t.Errorf("18 flat item normalised without 'name': %#v", cfg[1])
	}
	// tools group: policy spec and task set stay unrendered
	tp := mustParseFile(t, "tools/09_pipeline.yaml").Step("start")
	if tp.Tool.Pipeline[0].Tool.Set["ctx.seed_n"] != "{{ output.n }}" {
		t.Errorf("09 task set: %#v", tp.Tool.Pipeline[0].Tool.Set)
	}
	if _, ok := tp.Tool.Pipeline[1].Tool.Spec["policy"]; !ok {
		t.Errorf("09 task spec: %#v", tp.Tool.Pipeline[1].Tool.Spec)
	}
	pg := mustParseFile(t, "tools/06_postgres.yaml").Step("insert").Tool.Single
	if pg.Kind != KindPostgres || pg.Auth != "{{ workload.pg_auth }}" || !strings.Contains(pg.Command, "RETURNING name") {
		t.Errorf("06 postgres: %+v", pg)
	}
	sub := mustParseFile(t, "tools/13_subplaybook_return_step.yaml").Step("start").Tool.Single
	if sub.Kind != KindPlaybook || sub.Extra["path"] != "conformance/tools/child_square" || sub.Extra["return_step"] != "finish" {
		t.Errorf("13 playbook tool: %+v", sub)
	}
	if in := sub.Input.(map[string]any); in["n"] != "{{ workload.n }}" {
		t.Errorf("13 args alias: %#v", sub.Input)
	}
	big := mustParseFile(t, "engine/22_bigint_precision.yaml")
	if big.WorkloadMap()["big"] != int64(3900000000000000123) {
		t.Errorf("22 workload integer: %#v", big.WorkloadMap()["big"])
	}
}

// TestConformanceCopyMatchesHandbook: testdata/conformance is a copy of the handbook's
// suite in which only comments and the README's citations were rewritten (a clone has no
// handbook to cite). HANDBOOK.sum records the sha256 of every handbook file as it was
// copied. Where the handbook sits beside the repository (as on developer machines and in
// CI), a handbook file whose sum changed must be re-copied, and apart from comment lines
// every copied file must still equal its source. A clone without the handbook skips.
func TestConformanceCopyMatchesHandbook(t *testing.T) {
	t.Parallel()
	ours := conformanceDir(t)
	theirs := filepath.Join(ours, "..", "..", "..", "shared", "conformance")
	if _, err := os.Stat(theirs); err != nil {
		t.Skipf("handbook not beside the repository (%v)", err)
	}
	recorded := readHandbookSums(t, filepath.Join(ours, "HANDBOOK.sum"))
	files := map[string]bool{}
	for _, root := range []string{ours, theirs} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel != "HANDBOOK.sum" {
				files[filepath.ToSlash(rel)] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for rel := range files {
		a, errA := os.ReadFile(filepath.Join(ours, rel))
		b, errB := os.ReadFile(filepath.Join(theirs, rel))
		switch {
		case errA != nil:
			t.Errorf("%s is in the handbook but not in testdata/conformance (copy it)", rel)
			continue
		case errB != nil:
			t.Errorf("%s is in testdata/conformance but not in the handbook", rel)
			continue
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); recorded[rel] != got {
			t.Errorf("the handbook's %s changed since it was copied (sum %s, recorded %q): re-copy it and update HANDBOOK.sum", rel, got, recorded[rel])
		}
		if strings.HasSuffix(rel, ".md") {
			continue // prose: citations rewritten, the sum above catches upstream changes
		}
		if withoutComments(a) != withoutComments(b) {
			t.Errorf("%s differs from the handbook's copy outside comments", rel)
		}
	}
	for rel := range recorded {
		if !files[rel] {
			t.Errorf("HANDBOOK.sum lists %s, which neither copy has", rel)
		}
	}
}

// readHandbookSums reads lines of "<sha256>  <path>" (the format of sha256sum).
func readHandbookSums(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		sum, rel, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		sums[rel] = sum
	}
	return sums
}

// withoutComments drops whole-line '#' comments (YAML and Python alike), so that a
// rewritten citation in a comment is not a difference.
func withoutComments(b []byte) string {
	var kept []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}
