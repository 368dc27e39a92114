package playbook

import "fmt"
import "math"
import "testing"

import "github.com/noetl/controlplane/shared/jsonx"
import "go.yaml.in/yaml/v3"

// TestFastScalarMatchesDecode: the fast path for booleans and numbers gives what yaml's
// own Decode gives, for every spelling and tag, or declines.
func TestFastScalarMatchesDecode(t *testing.T) {
	t.Parallel()
	texts := []string{
		"0", "-0", "+0", "1", "-1", "+1", "42", "007", "0777", "0o17", "0x1F", "0b101", "1_000",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "3900000000000000123",
		"0.5", "-0.5", "+0.5", "1.", ".5", "1.5e3", "1e3", "00.5", "1.2.3", "1..2", "-", "+", ".",
		".inf", "-.inf", ".nan", "1,5",
		"true", "True", "TRUE", "tRue", "false", "False", "FALSE", "yes", "no", "on", "off", "y", "n",
		"null", "~", "", "abc", "12abc", "١٢",
	}
	forms := []string{"%s", "!!int %s", "!!float %s", "!!bool %s", "!!int '%s'", "!!float \"%s\"", "!!bool '%s'"}
	checked := 0
	for _, text := range texts {
		for _, form := range forms {
			src := "v: " + fmt.Sprintf(form, text) + "\n"
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
				continue
			}
			n := doc.Content[0].Content[1]
			tag := n.ShortTag()
			if tag != "!!bool" && tag != "!!int" && tag != "!!float" {
				continue
			}
			fast, ok := fastScalar(tag, n.Value)
			if !ok {
				continue
			}
			checked++
			var slow any
			if err := n.Decode(&slow); err != nil {
				t.Errorf("%q: fast path gives %v, Decode fails: %v", src, fast, err)
				continue
			}
			slow = jsonx.Normalize(slow)
			if !same(fast, slow) {
				t.Errorf("%q: fast path gives %#v, Decode %#v", src, fast, slow)
			}
		}
	}
	if checked < 30 {
		t.Errorf("only %d spellings took the fast path", checked)
	}
}

func same(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb))
	}
	return a == b
}
