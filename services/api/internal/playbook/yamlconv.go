package playbook

import "bytes"
import "errors"
import "fmt"
import "io"
import "regexp"
import "strconv"
import "strings"

import "github.com/noetl/controlplane/shared/jsonx"
import "go.yaml.in/yaml/v3"

// Bounds of one document with its aliases expanded, so that alias bombs ("billion
// laughs") fail instead of exhausting memory. Node counts alone do not do it: one
// anchored 100 KB string aliased a thousand times is a thousand nodes and 100 MB once
// marshalled, so the expanded size is counted in bytes too (scalar text and mapping keys,
// about what its JSON takes). maxDepth bounds nesting.
const (
	maxNodes = 1 << 20
	// MaxExpandedBytes is the expanded-size limit: four times the default request body
	// limit, far above any real playbook.
	MaxExpandedBytes = 8 << 20
	maxDepth         = 2000
)

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// parseYAML reads exactly one YAML document and returns its root node.
func parseYAML(src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{Line: 1, Msg: "the playbook is empty"}
		}
		return nil, yamlErr(err, src)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ParseError{Line: extra.Line, Msg: "the playbook must be a single YAML document (found another one)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlErr(err, src)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, &ParseError{Line: 1, Msg: "the playbook is empty"}
		}
		root = root.Content[0]
	}
	return root, nil
}

// yamlErr is the ParseError of a yaml syntax error in src, at the line where the parser
// stopped. yaml's own message names, for most errors, the line of the enclosing block
// counted from 0 (a bad indentation at line 12 inside the step that opens at line 8
// reads "line 7"), and no line at all for an error on the first line.
func yamlErr(err error, src []byte) *ParseError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(strings.Replace(msg, m[0]+":", "", 1))
	}
	stop := stopLine(src)
	// An unterminated quoted string is found at the end of the text; yaml's line is where
	// the string opens (its scanner counts from 1), which is what there is to fix.
	if msg == "found unexpected end of stream" && line > 0 && line <= stop {
		return &ParseError{Line: line, Msg: msg}
	}
	return &ParseError{Line: stop, Msg: msg}
}

// stopLine reads src again, handing the parser one byte per read, and returns the line
// of the last byte it read before it failed: yaml reads only as far ahead as it must
// to see a token, so that is the line of the offending token. Only rejected text is read
// twice, under the same limits as the first time.
func stopLine(src []byte) int {
	r := &trickleReader{src: src}
	dec := yaml.NewDecoder(r)
	for {
		var n yaml.Node
		if dec.Decode(&n) != nil {
			break
		}
	}
	return 1 + lineBreaks(src[:max(r.n-1, 0)])
}

// lineBreaks counts the line breaks in b as yaml counts lines: CR LF, CR, LF, NEL, LS
// and PS.
func lineBreaks(b []byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\n':
			n++
		case b[i] == '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				n++
			}
		case b[i] == 0xC2 && i+1 < len(b) && b[i+1] == 0x85: // NEL
			n++
		case b[i] == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9): // LS, PS
			n++
		}
	}
	return n
}

// trickleReader reads its source one byte per call.
type trickleReader struct {
	src []byte
	n   int
}

func (r *trickleReader) Read(p []byte) (int, error) {
	if r.n >= len(r.src) {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.src[r.n]
	r.n++
	return 1, nil
}

// converter turns yaml nodes into values. Anchored nodes are converted once and
// shared by their aliases (their expanded size still counts against maxNodes), and an
// alias that refers to a node being converted is rejected as recursive.
type converter struct {
	nodes  int
	bytes  int
	depth  int
	memo   map[*yaml.Node]memoEntry
	active map[*yaml.Node]bool
}

type memoEntry struct {
	v     any
	size  int // nodes
	bytes int
}

func (c *converter) tooLarge(line int) error {
	return &LimitError{Line: line, Limit: maxNodes, Unit: "nodes"}
}

// grow counts n more bytes of expanded text.
func (c *converter) grow(n, line int) error {
	c.bytes += n
	if c.bytes > MaxExpandedBytes {
		return &LimitError{Line: line, Limit: MaxExpandedBytes, Unit: "bytes"}
	}
	return nil
}

// enter counts one more node against maxNodes and one more level against maxDepth
// (tooDeep is the message then). On success the caller defers leave.
func (c *converter) enter(line int, tooDeep string) error {
	c.nodes++
	if c.nodes > maxNodes {
		return c.tooLarge(line)
	}
	c.depth++
	if c.depth > maxDepth {
		c.depth--
		return &ParseError{Line: line, Msg: tooDeep}
	}
	return nil
}

// leave ends the level enter began.
func (c *converter) leave() { c.depth-- }

// Deref follows an alias chain (at most 64 links) and unwraps a document node, so that
// code walking a yaml.Node tree sees the value a node stands for.
func Deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return Deref(n.Content[0])
	}
	return n
}

// value converts a node into the shared value model (int64 integers, map[string]any).
func (c *converter) value(n *yaml.Node) (any, error) {
	line := n.Line
	if err := c.enter(line, "the document is nested too deeply"); err != nil {
		return nil, err
	}
	defer c.leave()
	n = Deref(n)
	if n == nil {
		return nil, nil
	}
	if n.Kind == yaml.AliasNode {
		return nil, &ParseError{Line: line, Msg: "alias chain too deep"}
	}
	if n.Kind == yaml.ScalarNode {
		if err := c.grow(len(n.Value)+2, line); err != nil {
			return nil, err
		}
		return scalar(n)
	}
	if n.Anchor != "" {
		if e, ok := c.memo[n]; ok {
			c.nodes += e.size
			if c.nodes > maxNodes {
				return nil, c.tooLarge(line)
			}
			if err := c.grow(e.bytes, line); err != nil {
				return nil, err
			}
			return e.v, nil
		}
		if c.active[n] {
			return nil, &ParseError{Line: line, Msg: fmt.Sprintf("recursive alias *%s", n.Anchor)}
		}
		if c.active == nil {
			c.active, c.memo = map[*yaml.Node]bool{}, map[*yaml.Node]memoEntry{}
		}
		c.active[n] = true
		before, beforeBytes := c.nodes, c.bytes
		v, err := c.composite(n)
		delete(c.active, n)
		if err != nil {
			return nil, err
		}
		c.memo[n] = memoEntry{v: v, size: c.nodes - before, bytes: c.bytes - beforeBytes}
		return v, nil
	}
	return c.composite(n)
}

func (c *converter) composite(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		if out, ok, err := c.plainMapping(n); ok || err != nil {
			return out, err
		}
		pairs, err := c.pairs(n)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(pairs))
		for _, p := range pairs {
			if err := c.grow(len(p.key)+3, p.keyNode.Line); err != nil {
				return nil, err
			}
			v, err := c.value(p.val)
			if err != nil {
				return nil, err
			}
			out[p.key] = v
		}
		return out, nil
	}
	return nil, &ParseError{Line: n.Line, Msg: "unsupported YAML node"}
}

// plainMapping converts a mapping without merge keys (nearly every mapping) without
// building the pair list: it checks the keys first, in order and with the same errors
// as pairs, then converts the values. ok is false when the mapping has a merge key;
// the caller then takes the general path.
func (c *converter) plainMapping(n *yaml.Node) (out map[string]any, ok bool, err error) {
	var buf [16]string
	keys := buf[:0]
	var seen map[string]int // index into keys; only for big mappings
	if len(n.Content) > 32 {
		seen = make(map[string]int, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		kd := Deref(k)
		if kd.Kind == yaml.ScalarNode && kd.ShortTag() == "!!merge" {
			return nil, false, nil
		}
		key, err := c.keyString(kd)
		if err != nil {
			return nil, true, err
		}
		first := -1
		if seen != nil {
			if j, dup := seen[key]; dup {
				first = j
			} else {
				seen[key] = len(keys)
			}
		} else {
			for j, prev := range keys {
				if prev == key {
					first = j
					break
				}
			}
		}
		if first >= 0 {
			return nil, true, &ParseError{Line: k.Line, Msg: fmt.Sprintf("mapping key %q already defined at line %d", key, n.Content[2*first].Line)}
		}
		keys = append(keys, key)
	}
	out = make(map[string]any, len(keys))
	for i, key := range keys {
		if err := c.grow(len(key)+3, n.Content[2*i].Line); err != nil {
			return nil, true, err
		}
		v, err := c.value(n.Content[2*i+1])
		if err != nil {
			return nil, true, err
		}
		out[key] = v
	}
	return out, true, nil
}

func scalar(n *yaml.Node) (any, error) {
	tag := n.ShortTag()
	switch tag {
	case "!!str", "!!timestamp", "!!binary":
		// timestamps stay text, as they do when yaml decodes into interface{}
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float":
		if v, ok := fastScalar(tag, n.Value); ok {
			return v, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, &ParseError{Line: n.Line, Msg: err.Error()}
		}
		return jsonx.Normalize(v), nil
	}
	// a custom tag: decode what yaml makes of it, else keep the text
	var v any
	if err := n.Decode(&v); err == nil {
		return jsonx.Normalize(v), nil
	}
	return n.Value, nil
}

// fastScalar reads the common spellings of booleans, integers and decimals without
// yaml's reflection-based Decode (which allocates a decoder per scalar), giving exactly
// what Decode gives for them: !!bool true/True/TRUE, false/False/FALSE; !!int decimal
// integers without leading zeros or underscores; !!float d.d decimals. Everything else
// (hex, octal, underscores, exponents, .inf, a tag that does not fit the text) takes
// the general path.
func fastScalar(tag, s string) (any, bool) {
	if tag == "!!bool" {
		switch s {
		case "true", "True", "TRUE":
			return true, true
		case "false", "False", "FALSE":
			return false, true
		}
		return nil, false
	}
	digits := s
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		digits = digits[1:]
	}
	if digits == "" {
		return nil, false
	}
	dot := -1
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c == '.' && dot < 0 {
			dot = i
			continue
		}
		if c < '0' || c > '9' {
			return nil, false
		}
	}
	switch {
	case dot < 0 && tag == "!!int":
		if len(digits) > 1 && digits[0] == '0' {
			return nil, false // 0777 is octal to yaml
		}
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return v, true
		}
	case dot > 0 && dot < len(digits)-1 && tag == "!!float":
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return v, true
		}
	}
	return nil, false
}

type pair struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

// pairs lists a mapping's entries in document order, applying merge keys (<<) with the
// lower precedence YAML gives them, and rejecting duplicate keys.
func (c *converter) pairs(n *yaml.Node) ([]pair, error) {
	out := make([]pair, 0, len(n.Content)/2)
	// small mappings (most of a playbook) find duplicates by scanning; big ones index
	var seen map[string]int
	if len(n.Content) > 32 {
		seen = make(map[string]int, len(n.Content)/2)
	}
	lineOfKey := func(key string) (int, bool) {
		if seen != nil {
			l, ok := seen[key]
			return l, ok
		}
		for _, p := range out {
			if p.key == key {
				return p.keyNode.Line, true
			}
		}
		return 0, false
	}
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kd := Deref(k)
		if kd.Kind == yaml.ScalarNode && kd.ShortTag() == "!!merge" {
			m, err := c.mergeSources(v)
			if err != nil {
				return nil, err
			}
			merged = append(merged, m...)
			continue
		}
		key, err := c.keyString(kd)
		if err != nil {
			return nil, err
		}
		if line, dup := lineOfKey(key); dup {
			return nil, &ParseError{Line: k.Line, Msg: fmt.Sprintf("mapping key %q already defined at line %d", key, line)}
		}
		if seen != nil {
			seen[key] = k.Line
		}
		out = append(out, pair{key: key, keyNode: k, val: v})
	}
	for _, p := range merged {
		if _, dup := lineOfKey(p.key); dup {
			continue
		}
		if seen != nil {
			seen[p.key] = p.keyNode.Line
		}
		out = append(out, p)
	}
	return out, nil
}

func (c *converter) mergeSources(v *yaml.Node) ([]pair, error) {
	line := v.Line
	if err := c.enter(line, "merge keys nested too deeply"); err != nil {
		return nil, err
	}
	defer c.leave()
	v = Deref(v)
	if v == nil || v.Kind == yaml.AliasNode {
		return nil, &ParseError{Line: line, Msg: "alias chain too deep"}
	}
	switch v.Kind {
	case yaml.MappingNode:
		if c.active[v] {
			return nil, &ParseError{Line: line, Msg: "a merge key (<<) refers to the mapping that contains it"}
		}
		if c.active == nil {
			c.active, c.memo = map[*yaml.Node]bool{}, map[*yaml.Node]memoEntry{}
		}
		c.active[v] = true
		defer delete(c.active, v)
		return c.pairs(v)
	case yaml.SequenceNode:
		// earlier maps in the list win over later ones
		var out []pair
		seen := map[string]bool{}
		for _, e := range v.Content {
			ps, err := c.mergeSources(e)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if !seen[p.key] {
					seen[p.key] = true
					out = append(out, p)
				}
			}
		}
		return out, nil
	}
	return nil, &ParseError{Line: v.Line, Msg: "a merge key (<<) must refer to a mapping or a list of mappings"}
}

func (c *converter) keyString(k *yaml.Node) (string, error) {
	if k.Kind != yaml.ScalarNode {
		return "", &ParseError{Line: k.Line, Msg: "mapping keys must be scalars"}
	}
	if k.ShortTag() == "!!str" {
		return k.Value, nil
	}
	v, err := scalar(k)
	if err != nil {
		return "", err
	}
	return jsonx.KeyString(v), nil
}

// lineOf finds the line of the node at a path of map keys (string) and list indexes
// (int) below root; it returns the line of the deepest node it could reach. It scans
// without allocating, so calling it per step and per arc stays cheap.
func lineOf(root *yaml.Node, path ...any) int {
	n := Deref(root)
	line := 0
	if n != nil {
		line = n.Line
	}
	for _, step := range path {
		if n == nil {
			break
		}
		switch s := step.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			k, v := child(n, s)
			if k == nil {
				return line
			}
			line, n = k.Line, Deref(v)
		case int:
			if n.Kind != yaml.SequenceNode || s < 0 || s >= len(n.Content) {
				return line
			}
			n = Deref(n.Content[s])
			line = n.Line
		}
	}
	return line
}

// child finds key in a mapping node: its own entries first, then merged ones.
func child(n *yaml.Node, key string) (k, v *yaml.Node) {
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := Deref(n.Content[i])
		if kn.Kind != yaml.ScalarNode {
			continue
		}
		if kn.Value == key && kn.ShortTag() != "!!merge" {
			return n.Content[i], n.Content[i+1]
		}
		if kn.Value == "<<" {
			hasMerge = true
		}
	}
	if hasMerge {
		c := &converter{}
		if ps, err := c.pairs(n); err == nil {
			for _, p := range ps {
				if p.key == key {
					return p.keyNode, p.val
				}
			}
		}
	}
	return nil, nil
}
