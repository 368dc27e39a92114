package deploy

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/noetl/controlplane/shared/testkit"
)

// The variables the compose file passes that are not ours (PostgreSQL's and NATS's own).
var thirdPartyEnv = map[string]bool{"POSTGRES_DB": true}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	root := testkit.RepoRoot(t)
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yaml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("noetl", true) })
	if err != nil {
		t.Fatalf("docker-compose.yaml does not load: %v", err)
	}
	docs := documentedVars(t)
	commands := map[string]string{
		"router": "noetl-router", "api": "noetl-api", "wallet": "noetl-wallet", "broker": "noetl-broker",
		"migrate": "noetl-api migrate", "worker": "noetl-worker",
	}
	for name, cmd := range commands {
		svc, ok := project.Services[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		if got := strings.Join(svc.Command, " "); got != cmd {
			t.Errorf("%s command = %q, want %q", name, got, cmd)
		}
		for env := range svc.Environment {
			if !docs[env] && !thirdPartyEnv[env] {
				t.Errorf("%s sets %s, which the README does not document", name, env)
			}
		}
	}
	for _, dep := range []string{"postgres", "nats"} {
		if _, ok := project.Services[dep]; !ok {
			t.Errorf("no %s service", dep)
		}
	}
	// Only the router is published, on 8082.
	for name, svc := range project.Services {
		for _, p := range svc.Ports {
			if name != "router" || p.Target != 8082 || p.Published != "8082" {
				t.Errorf("%s publishes %v:%v; only the router's 8082 is public", name, p.Published, p.Target)
			}
		}
	}
	if len(project.Services["router"].Ports) != 1 {
		t.Errorf("router must publish 8082")
	}
	// The services start only after migrations succeeded.
	for _, name := range []string{"api", "wallet"} {
		dep, ok := project.Services[name].DependsOn["migrate"]
		if !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s must wait for migrate to complete successfully: %+v", name, project.Services[name].DependsOn)
		}
	}
	// The worker is built from the Dockerfile's worker stage (python for its tools) and
	// calls the control plane through the router.
	if w := project.Services["worker"]; w.Build == nil || w.Build.Target != "worker" {
		t.Errorf("the worker must build the Dockerfile's worker target: %+v", w.Build)
	} else if u := w.Environment["NOETL_SERVER_URL"]; u == nil || *u != "http://router:8082" {
		t.Errorf("worker NOETL_SERVER_URL = %v, want the router", u)
	}
	// The wallet's development key is a valid key (32 bytes of base64).
	if key := project.Services["wallet"].Environment["NOETL_ENCRYPTION_KEY"]; key == nil || !isBase64Of32(*key) {
		t.Errorf("wallet NOETL_ENCRYPTION_KEY is not base64 of 32 bytes")
	}
	// Every service that mints ids has its own machine id.
	ids := map[string]string{}
	for _, name := range []string{"api", "wallet"} {
		v := project.Services[name].Environment["NOETL_SERVER_MACHINE_ID"]
		if v == nil {
			t.Errorf("%s has no NOETL_SERVER_MACHINE_ID", name)
			continue
		}
		if other, dup := ids[*v]; dup {
			t.Errorf("%s and %s share machine id %s", name, other, *v)
		}
		ids[*v] = name
	}
}
