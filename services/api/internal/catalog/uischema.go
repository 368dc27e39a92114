package catalog

import "math"
import "regexp"
import "strings"

import "go.yaml.in/yaml/v3"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/jsonx"

// UIField is one input of a playbook's form (upstream UiSchemaField). The nullable
// members are emitted as null, never omitted.
type UIField struct {
	Name           string    `json:"name"`
	Kind           string    `json:"kind"` // string|integer|number|boolean|object|array|null|enum
	Default        any       `json:"default"`
	Description    *string   `json:"description"`
	Secret         bool      `json:"secret"`
	CredentialGlob *string   `json:"credential_glob"`
	Options        []any     `json:"options"`  // set for kind enum
	Children       []UIField `json:"children"` // set for kind object
}

// UISchema is what a GUI needs to render a form for a playbook's workload.
type UISchema struct {
	Title       *string // metadata.name
	Description *string // metadata.description
	ExposedInUI bool    // metadata.exposed_in_ui
	Fields      []UIField
}

// BuildUISchema reads the top-level `workload:` mapping of content into fields, in YAML
// order, with the `# ui:` directives written as inline comments on the key lines of its
// immediate children:
//
//	workload:
//	  api_key: ""          # ui:secret ui:description="The vendor's key"
//	  region: eu           # ui:enum=[eu, us]
//	  pg: pg_local         # ui:credential=pg_*
//
// Objects recurse into Children (without directives). Content that is not valid YAML
// gives no fields and no metadata, never an error, as upstream.
func BuildUISchema(content string) UISchema {
	out := UISchema{Fields: []UIField{}}
	v, err := playbook.DecodeValue([]byte(content))
	if err != nil {
		return out
	}
	doc, _ := v.(map[string]any)
	var root yaml.Node
	if doc == nil || yaml.Unmarshal([]byte(content), &root) != nil {
		return out
	}
	if md, ok := doc["metadata"].(map[string]any); ok {
		if s, ok := md["name"].(string); ok {
			out.Title = &s
		}
		if s, ok := md["description"].(string); ok {
			out.Description = &s
		}
		switch b := md["exposed_in_ui"].(type) {
		case bool:
			out.ExposedInUI = b
		case string:
			out.ExposedInUI = strings.EqualFold(strings.TrimSpace(b), "true")
		}
	}
	wl, ok := doc["workload"].(map[string]any)
	node := mappingValue(playbook.Deref(&root), "workload")
	if !ok || node == nil {
		return out
	}
	out.Fields = uiFields(node, wl, true)
	return out
}

// uiFields lists the entries of mapping node n; vals is the same mapping as values.
func uiFields(n *yaml.Node, vals map[string]any, directives bool) []UIField {
	out := []UIField{}
	seen := map[string]bool{}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kd := playbook.Deref(k)
		if kd == nil || kd.Kind != yaml.ScalarNode {
			continue
		}
		if kd.ShortTag() == "!!merge" {
			merged = append(merged, mergeSources(v)...)
			continue
		}
		if seen[kd.Value] {
			continue
		}
		seen[kd.Value] = true
		out = append(out, uiField(k, v, vals, directives))
	}
	// keys merged in with << come after the mapping's own keys, first source winning
	for _, m := range merged {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			kd := playbook.Deref(k)
			if kd == nil || kd.Kind != yaml.ScalarNode || kd.ShortTag() == "!!merge" || seen[kd.Value] {
				continue
			}
			seen[kd.Value] = true
			out = append(out, uiField(k, v, vals, directives))
		}
	}
	return out
}

func uiField(k, v *yaml.Node, vals map[string]any, directives bool) UIField {
	name := playbook.Deref(k).Value
	val := vals[name]
	f := UIField{Name: name, Kind: uiKinds.Of(val), Default: finite(val)}
	if m, ok := val.(map[string]any); ok {
		if vn := playbook.Deref(v); vn != nil && vn.Kind == yaml.MappingNode {
			f.Children = uiFields(vn, m, false)
		} else {
			f.Children = []UIField{}
		}
	}
	if directives {
		comment := k.LineComment
		if comment == "" && v.Line == k.Line {
			comment = v.LineComment
		}
		applyDirectives(&f, comment)
	}
	return f
}

// uiKinds names a default's kind as the form does: JSON Schema's words, with integers
// apart from other numbers, and "string" for anything else.
var uiKinds = jsonx.KindNames{Null: "null", Bool: "boolean", Integer: "integer", Float: "number", String: "string", Array: "array", Object: "object", Other: "string"}

// finite replaces NaN and infinities (which YAML has and JSON lacks) with null, so that
// one odd default does not fail the whole response.
func finite(v any) any {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return nil
	}
	return jsonx.MapChildren(v, finite)
}

// directiveStart finds each `ui:` that begins a directive (at the start of the comment
// or after a blank or '#').
var directiveStart = regexp.MustCompile(`(?:^|[\s#])ui:`)

// applyDirectives reads `ui:secret`, `ui:enum=[a,b]`, `ui:credential=<glob>` and
// `ui:description=<text>` from a comment; several may share one comment. A directive's
// value runs to the next directive. Surrounding quotes are stripped; unknown directives
// are ignored.
func applyDirectives(f *UIField, comment string) {
	if comment == "" {
		return
	}
	locs := directiveStart.FindAllStringIndex(comment, -1)
	for i, loc := range locs {
		end := len(comment)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		text := strings.TrimSpace(comment[loc[1]:end])
		name, value, _ := strings.Cut(text, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		value = unquote(strings.TrimSpace(value))
		switch name {
		case "secret":
			f.Secret = value == "" || strings.EqualFold(value, "true")
		case "enum":
			f.Kind = "enum"
			f.Options = enumOptions(value)
		case "credential":
			if value != "" {
				f.CredentialGlob = &value
			}
		case "description":
			f.Description = &value
		}
	}
}

func enumOptions(value string) []any {
	value = strings.TrimSpace(value)
	value = strings.TrimPrefix(value, "[")
	value = strings.TrimSuffix(value, "]")
	out := []any{}
	for _, item := range strings.Split(value, ",") {
		if item = unquote(strings.TrimSpace(item)); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// mappingValue returns the mapping node under key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := playbook.Deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key && k.ShortTag() != "!!merge" {
			if v := playbook.Deref(n.Content[i+1]); v != nil && v.Kind == yaml.MappingNode {
				return v
			}
			return nil
		}
	}
	return nil
}

// mergeSources lists the mappings a merge key (<<) refers to, in precedence order.
func mergeSources(v *yaml.Node) []*yaml.Node {
	v = playbook.Deref(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, e := range v.Content {
			if m := playbook.Deref(e); m != nil && m.Kind == yaml.MappingNode {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}
