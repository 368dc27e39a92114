// Package render writes a command's result as JSON, YAML or an aligned table.
package render

import "bytes"
import "encoding/json"
import "fmt"
import "io"
import "strings"
import "text/tabwriter"

import "go.yaml.in/yaml/v3"

// Format is an output format (-o).
type Format string

// The formats every read command offers.
const (
	Table Format = "table"
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// Formats lists the accepted -o values, for help and completion.
var Formats = []string{string(Table), string(JSON), string(YAML)}

// ParseFormat checks an -o value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case Table, JSON, YAML:
		return f, nil
	case "":
		return Table, nil
	}
	return "", fmt.Errorf("unknown output format %q (use %s)", s, strings.Join(Formats, ", "))
}

// Rows is a table: a header and its rows, cell by cell.
type Rows struct {
	Header []string
	Rows   [][]string
}

// Add appends a row.
func (r *Rows) Add(cells ...string) { r.Rows = append(r.Rows, cells) }

// Write renders v in format f: JSON and YAML encode v itself, a table uses rows (v's
// shape as the server sent it stays the machine-readable form).
func Write(w io.Writer, f Format, v any, rows func() Rows) error {
	switch f {
	case JSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case YAML:
		// Through JSON first, so the keys and raw JSON fields are the JSON ones.
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&generic); err != nil {
			return err
		}
		out, err := yaml.Marshal(numbersAsText(generic))
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	default:
		return WriteRows(w, rows())
	}
}

// numbersAsText turns json.Number into int64 or float64 values yaml can write; big ids
// stay exact because they fit an int64.
func numbersAsText(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = numbersAsText(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbersAsText(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	}
	return v
}

// WriteRows writes an aligned table.
func WriteRows(w io.Writer, r Rows) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Header) > 0 {
		fmt.Fprintln(tw, strings.Join(r.Header, "\t"))
	}
	for _, row := range r.Rows {
		cells := make([]string, len(row))
		for i, c := range row {
			// A tab or newline inside a cell would break the alignment.
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// Or is s, or dash when s is empty (an empty table cell reads as a missing column).
func Or(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Deref is *p, or "" when p is nil.
func Deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}
