package render

import "bytes"
import "encoding/json"
import "strings"
import "testing"

func TestWrite(t *testing.T) {
	t.Parallel()
	v := map[string]any{"execution_id": json.Number("387504528288690176"), "status": "COMPLETED", "raw": json.RawMessage(`{"a":[1,2]}`)}
	rows := func() Rows {
		r := Rows{Header: []string{"ID", "STATUS"}}
		r.Add("387504528288690176", "COMPLETED\twith a tab")
		return r
	}
	tests := []struct {
		format Format
		want   []string
	}{
		{JSON, []string{`"execution_id": 387504528288690176`, `"a": [`}},
		{YAML, []string{"execution_id: 387504528288690176", "status: COMPLETED", "- 1"}},
		{Table, []string{"ID                  STATUS", "387504528288690176  COMPLETED with a tab"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tc.format, v, rows); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{"": Table, "JSON": JSON, " yaml ": YAML, "table": Table} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "table, json, yaml") {
		t.Errorf("xml: %v", err)
	}
}
