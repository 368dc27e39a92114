package catalog

import "encoding/json"
import "fmt"
import "net/http"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

// maxAllocPerRegistration bounds what one registration may allocate: the expanded
// document is at most playbook.MaxExpandedBytes (8 MiB), converted, marshalled and sent
// to PostgreSQL a few times over. Before the byte bound, a few kilobytes of aliases
// allocated gigabytes.
const maxAllocPerRegistration = 256 << 20

// FuzzRegister registers arbitrary YAML through POST /api/catalog/register: no input
// may answer 5xx, and none may allocate without bound.
func FuzzRegister(f *testing.F) {
	s := testkit.NewSchema(f, migrations.Set)
	gen, err := ids.NewGenerator(8)
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandlers(s.Pool, gen, NewCache(16))
	e := httpkit.EngineWith(f, httpx.Options{MaxBodyBytes: 2 << 20}, "")
	h.Register(e.Group("/api"))

	var bomb strings.Builder
	bomb.WriteString("kind: Agent\nmetadata: {name: b, path: fuzz/bomb}\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&bomb, "l%d: &l%d [*l%d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d]\n", i, i, i-1)
	}
	for _, content := range []string{
		playbookYAML("fuzz/pb", "hi"),
		agentYAML,
		bomb.String(),
		"metadata: {path: fuzz/m}\ns: &s " + strings.Repeat("y", 4096) + "\nw: [*s, *s, *s, *s]\n",
		"kind: Memory\nmetadata:\n  path: fuzz/mem\nworkload: {n: 1e400}\n",
		"kind: Memory\nmetadata:\n  path: fuzz/mem2\nworkload: {n: .inf}\n",
		"metadata: {path: [a]}\n",
		"a: &a [*a]\n",
		"- [\n",
		"kind: Agent\nmetadata: {path: fuzz/x}\n<<: {a: 1}\n",
		"kind: Playbook\nmetadata: {name: x, path: fuzz/p}\nworkflow: [{step: start, tool: {kind: noop}, next: [{step: end}]}, {step: end}]\n",
	} {
		f.Add(content)
	}
	f.Fuzz(func(t *testing.T, content string) {
		body, _ := json.Marshal(map[string]string{"content": content})
		httpkit.RequestBounded(t, e, http.MethodPost, "/api/catalog/register", string(body), maxAllocPerRegistration)
	})
}
