package engine

import "reflect"
import "testing"

import "github.com/noetl/controlplane/shared/tmpl"

// TestDataThatLooksLikeATemplateStaysData: the worker renders every string of a tool
// config that still holds a template, with the keychain in scope. A workload value, a
// step result or a loop item holding "{{ keychain... }}" is data: the command must carry
// it so that the worker's render gives the text back, not the credential.
func TestDataThatLooksLikeATemplateStaysData(t *testing.T) {
	t.Parallel()
	const hostile = "{{ keychain.tok.v | lower }}"
	pb := mustParse(t, playbookOf("escape",
		step("start", []string{"b"}),
		"  - step: b\n    loop: {in: \"{{ workload.items }}\", iterator: it}\n    tool:\n      kind: noop\n"+
			"      url: \"http://example.test/?q={{ workload.note }}\"\n      whole: \"{{ workload.obj }}\"\n"+
			"      own: \"{{ keychain.tok.v }}\"\n"))
	r := runSim(t, pb, expectedRun{Name: "escape", Payload: map[string]any{
		"note": hostile, "items": []any{hostile}, "obj": map[string]any{hostile: []any{hostile}},
	}})
	issued := r.issued("b")
	if len(issued) == 0 {
		t.Fatal("b issued no command")
	}
	cfg := issued[0].Context.(map[string]any)["tool_config"]
	worker := map[string]any{"keychain": map[string]any{"tok": map[string]any{"v": "S3CRET"}}}
	got, err := tmpl.New(0).RenderValueOpts(cfg, worker, tmpl.Options{KeepPlain: true})
	if err != nil {
		t.Fatalf("the worker's render of %#v: %v", cfg, err)
	}
	want := map[string]any{
		"url":   "http://example.test/?q=" + hostile,
		"whole": map[string]any{hostile: []any{hostile}},
		"own":   "S3CRET", // the playbook's own reference still reaches the keychain
		"args":  map[string]any{"it": hostile, "_index": int64(0), "_total": int64(1)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the worker renders %#v\nwant %#v", got, want)
	}
}
