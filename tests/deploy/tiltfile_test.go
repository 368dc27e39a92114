package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/noetl/controlplane/shared/testkit"
)

// tiltCall records one call of a Tilt builtin.
type tiltCall struct {
	name   string
	args   []starlark.Value
	kwargs map[string]starlark.Value
}

// runTiltfile executes the Tiltfile with recording stand-ins for the builtins it uses.
func runTiltfile(t *testing.T) []tiltCall {
	t.Helper()
	root := testkit.RepoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "Tiltfile"))
	if err != nil {
		t.Fatal(err)
	}
	var calls []tiltCall
	builtin := func(name string, ret starlark.Value) *starlark.Builtin {
		return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			c := tiltCall{name: name, args: args, kwargs: map[string]starlark.Value{}}
			for _, kv := range kwargs {
				c.kwargs[string(kv[0].(starlark.String))] = kv[1]
			}
			calls = append(calls, c)
			return ret, nil
		})
	}
	predeclared := starlark.StringDict{}
	for _, name := range []string{"allow_k8s_contexts", "docker_build", "k8s_yaml", "k8s_resource", "local_resource"} {
		predeclared[name] = builtin(name, starlark.None)
	}
	predeclared["helm"] = builtin("helm", starlark.String("<rendered chart>"))
	thread := &starlark.Thread{Name: "Tiltfile", Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
		return nil, fmt.Errorf("load(%q): the Tiltfile must not depend on extensions CI cannot fetch", module)
	}}
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "Tiltfile", src, predeclared); err != nil {
		t.Fatalf("Tiltfile does not execute: %v", err)
	}
	return calls
}

func str(v starlark.Value) string {
	s, _ := starlark.AsString(v)
	return s
}

func TestTiltfile(t *testing.T) {
	t.Parallel()
	root := testkit.RepoRoot(t)
	calls := runTiltfile(t)
	exists := func(rel string) {
		if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
			t.Errorf("the Tiltfile references %s, which does not exist", rel)
		}
	}
	resources := map[string]bool{}
	var images []string
	for _, c := range calls {
		switch c.name {
		case "docker_build":
			images = append(images, str(c.args[0]))
			exists(str(c.kwargs["context"]))
			exists(str(c.kwargs["dockerfile"]))
		case "k8s_yaml":
			if s := str(c.args[0]); s != "<rendered chart>" {
				exists(s)
			}
		case "helm":
			exists(str(c.args[0]))
			if list, ok := c.kwargs["values"].(*starlark.List); ok {
				for i := 0; i < list.Len(); i++ {
					exists(str(list.Index(i)))
				}
			}
		case "k8s_resource":
			resources[str(c.args[0])] = true
		}
	}
	if len(images) != 2 || images[0] != "noetl-controlplane" || images[1] != "noetl-controlplane-worker" {
		t.Errorf("docker_build images = %v, want the services' image and the worker's", images)
	}
	// Every resource the Tiltfile configures exists in what it deploys.
	objs := mustRender(t, nil)
	for name := range resources {
		if name == "postgres" || name == "nats" {
			continue // deploy/dev/dependencies.yaml
		}
		if find(objs, "Deployment", name) == nil && find(objs, "StatefulSet", name) == nil {
			t.Errorf("k8s_resource(%q) names no workload of the chart", name)
		}
	}
	for _, want := range []string{"noetl-router", "noetl-api", "noetl-wallet", "noetl-broker", "noetl-worker", "postgres", "nats"} {
		if !resources[want] {
			t.Errorf("the Tiltfile does not configure %s", want)
		}
	}
}
