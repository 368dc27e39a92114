package catalog

import "encoding/json"
import "testing"

func TestBuildUISchemaDirectives(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		line string // one workload entry
		want UIField
	}{
		{"plain string", `a: x`, UIField{Name: "a", Kind: "string", Default: "x"}},
		{"secret", `a: "" # ui:secret`, UIField{Name: "a", Kind: "string", Default: "", Secret: true}},
		{"secret=false", `a: "" # ui:secret=false`, UIField{Name: "a", Kind: "string", Default: ""}},
		{"enum", `a: b # ui:enum=[a, b, c]`, UIField{Name: "a", Kind: "enum", Default: "b", Options: []any{"a", "b", "c"}}},
		{"enum quoted items", `a: b # ui:enum=["a", 'b']`, UIField{Name: "a", Kind: "enum", Default: "b", Options: []any{"a", "b"}}},
		{"enum without brackets", `a: 1 # ui:enum=1,2`, UIField{Name: "a", Kind: "enum", Default: int64(1), Options: []any{"1", "2"}}},
		{"credential", `a: pg # ui:credential=pg_*`, UIField{Name: "a", Kind: "string", Default: "pg", CredentialGlob: str("pg_*")}},
		{"description quoted", `a: 1 # ui:description="Number of rows"`, UIField{Name: "a", Kind: "integer", Default: int64(1), Description: str("Number of rows")}},
		{"description with a hash", `a: 1 # ui:description=Issue #4 only`, UIField{Name: "a", Kind: "integer", Default: int64(1), Description: str("Issue #4 only")}},
		{"several directives", `a: "" # ui:secret ui:credential='gcp_*' ui:description=Key`, UIField{Name: "a", Kind: "string", Default: "", Secret: true, CredentialGlob: str("gcp_*"), Description: str("Key")}},
		{"text before the directive", `a: 1 # rows ui:secret`, UIField{Name: "a", Kind: "integer", Default: int64(1), Secret: true}},
		{"unknown directive ignored", `a: 1 # ui:color=red`, UIField{Name: "a", Kind: "integer", Default: int64(1)}},
		{"not a directive", `a: 1 # gui:secret`, UIField{Name: "a", Kind: "integer", Default: int64(1)}},
		{"number", `a: 1.5`, UIField{Name: "a", Kind: "number", Default: 1.5}},
		{"boolean", `a: true`, UIField{Name: "a", Kind: "boolean", Default: true}},
		{"null", `a:`, UIField{Name: "a", Kind: "null"}},
		{"NaN default is null", `a: .nan`, UIField{Name: "a", Kind: "number"}},
		{"array", `a: [1, x] # ui:description=list`, UIField{Name: "a", Kind: "array", Default: []any{int64(1), "x"}, Description: str("list")}},
		{"object on the key line", "a: # ui:secret\n    b: 1 # ui:secret", UIField{Name: "a", Kind: "object", Default: map[string]any{"b": int64(1)}, Secret: true,
			Children: []UIField{{Name: "b", Kind: "integer", Default: int64(1)}}}},
		{"empty object", `a: {}`, UIField{Name: "a", Kind: "object", Default: map[string]any{}, Children: []UIField{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := BuildUISchema("metadata:\n  name: n\nworkload:\n  " + tc.line + "\n")
			if len(s.Fields) != 1 {
				t.Fatalf("fields = %+v", s.Fields)
			}
			got, _ := json.Marshal(s.Fields[0])
			want, _ := json.Marshal(tc.want)
			if string(got) != string(want) {
				t.Errorf("field\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestBuildUISchemaDocument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		title   string // "" = null
		exposed bool
		fields  string // names
	}{
		{"malformed YAML", "metadata: [\n", "", false, ""},
		{"not a mapping", "- a\n", "", false, ""},
		{"no workload", "metadata:\n  name: t\n", "t", false, ""},
		{"workload not a mapping", "metadata: {name: t}\nworkload: [1]\n", "t", false, ""},
		{"exposed as a string", "metadata: {name: t, exposed_in_ui: 'true'}\nworkload: {a: 1}\n", "t", true, "a"},
		{"merge keys follow own keys", "base: &b {x: 1, a: 0}\nmetadata: {name: t}\nworkload:\n  <<: *b\n  a: 2\n", "t", false, "a,x"},
		{"aliased value", "v: &v {k: 1}\nworkload:\n  a: *v # ui:secret\n", "", false, "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := BuildUISchema(tc.content)
			if s.Fields == nil {
				t.Fatal("Fields is nil; it must encode as []")
			}
			title := ""
			if s.Title != nil {
				title = *s.Title
			}
			var names string
			for i, f := range s.Fields {
				if i > 0 {
					names += ","
				}
				names += f.Name
			}
			if title != tc.title || s.ExposedInUI != tc.exposed || names != tc.fields {
				t.Errorf("got title %q exposed %v fields %q, want %q %v %q", title, s.ExposedInUI, names, tc.title, tc.exposed, tc.fields)
			}
		})
	}
	s := BuildUISchema("workload:\n  a: &v {k: 1} # ui:secret\n  b: *v\n")
	if len(s.Fields) != 2 || s.Fields[1].Kind != "object" || len(s.Fields[1].Children) != 1 {
		t.Errorf("alias fields = %+v", s.Fields)
	}
}
