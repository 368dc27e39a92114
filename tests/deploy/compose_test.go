package deploy

import "context"
import "os"
import "path/filepath"
import "regexp"
import "slices"
import "strings"
import "testing"

import "github.com/compose-spec/compose-go/v2/dotenv"
import "github.com/compose-spec/compose-go/v2/loader"
import "github.com/compose-spec/compose-go/v2/types"

import "github.com/noetl/controlplane/shared/testkit"

// The variables the compose file passes that are not ours (PostgreSQL's own).
var thirdPartyEnv = map[string]bool{"POSTGRES_DB": true}

// loadCompose loads docker-compose.yaml as `docker compose` does, with env as the .env.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	root := testkit.RepoRoot(t)
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yaml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("noetl", true) })
}

// exampleEnv is .env.example, the file users copy to .env.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := dotenv.GetEnvFromFile(map[string]string{}, []string{filepath.Join(testkit.RepoRoot(t), ".env.example")})
	if err != nil {
		t.Fatalf(".env.example: %v", err)
	}
	return env
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	env := exampleEnv(t)
	project, err := loadCompose(t, env)
	if err != nil {
		t.Fatalf("docker-compose.yaml does not load with .env.example: %v", err)
	}
	docs := documentedVars(t)
	commands := map[string]string{
		"router": "noetl-router serve", "api": "noetl-api serve", "wallet": "noetl-wallet serve", "broker": "noetl-broker serve",
		"migrate": "noetl-api migrate", "migrate-wallet": "noetl-wallet migrate", "certs": "noetl-api certs --dir /var/lib/noetl/certs", "worker": "noetl-worker serve",
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
		for v := range svc.Environment {
			if !docs[v] && !thirdPartyEnv[v] {
				t.Errorf("%s sets %s, which the README does not document", name, v)
			}
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

	// Health checks on every long-running service; the NoETL ones run the binary's own
	// healthcheck (the image has no shell or curl).
	for _, name := range []string{"postgres", "nats", "api", "wallet", "broker", "router", "worker"} {
		hc := project.Services[name].HealthCheck
		if hc == nil || len(hc.Test) == 0 || hc.Disable {
			t.Errorf("%s has no health check", name)
			continue
		}
		if bin := "noetl-" + name; commands[name] != "" && !slices.Equal(hc.Test, []string{"CMD", bin, "healthcheck"}) {
			t.Errorf("%s health check %v, want [CMD %s healthcheck]", name, hc.Test, bin)
		}
	}

	// Start order by condition, not by container start.
	wantDeps := map[string]map[string]string{
		"migrate":        {"postgres": types.ServiceConditionHealthy, "certs": types.ServiceConditionCompletedSuccessfully},
		"migrate-wallet": {"postgres": types.ServiceConditionHealthy, "certs": types.ServiceConditionCompletedSuccessfully},
		"api":            {"migrate": types.ServiceConditionCompletedSuccessfully, "nats": types.ServiceConditionHealthy},
		"wallet":         {"migrate-wallet": types.ServiceConditionCompletedSuccessfully},
		"broker":         {"wallet": types.ServiceConditionHealthy},
		"router":         {"api": types.ServiceConditionHealthy, "wallet": types.ServiceConditionHealthy, "broker": types.ServiceConditionHealthy},
		"worker":         {"router": types.ServiceConditionHealthy, "nats": types.ServiceConditionHealthy},
	}
	// The worker is built from the Dockerfile's worker stage (python for its tools) and
	// calls the control plane through the router.
	if w := project.Services["worker"]; w.Build == nil || w.Build.Target != "worker" {
		t.Errorf("the worker must build the Dockerfile's worker target: %+v", w.Build)
	} else if u := w.Environment["NOETL_SERVER_URL"]; u == nil || *u != "http://router:8082" {
		t.Errorf("worker NOETL_SERVER_URL = %v, want the router", u)
	}
	for name, deps := range wantDeps {
		for dep, cond := range deps {
			if got := project.Services[name].DependsOn[dep]; got.Condition != cond {
				t.Errorf("%s depends on %s with %q, want %q", name, dep, got.Condition, cond)
			}
		}
	}

	// The certificate step writes into a volume every service mounts read-only, and
	// internal mTLS is wired: the internal services require client certificates of that
	// CA, every caller presents its own, and the upstream URLs are https.
	certs := project.Services["certs"]
	if len(certs.Volumes) != 1 || certs.Volumes[0].Source != "certs" || certs.Volumes[0].Target != "/var/lib/noetl/certs" || certs.Volumes[0].ReadOnly {
		t.Errorf("certs volume %+v", certs.Volumes)
	}
	for _, name := range []string{"router", "api", "wallet", "broker"} {
		svc := project.Services[name]
		if !slices.ContainsFunc(svc.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Source == "certs" && v.Target == "/var/lib/noetl/certs" && v.ReadOnly
		}) {
			t.Errorf("%s does not mount the certificates read-only: %+v", name, svc.Volumes)
		}
		e := func(k string) string {
			if v := svc.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		if e("NOETL_INTERNAL_TLS_CERT") != "/var/lib/noetl/certs/"+name+".crt" || e("NOETL_INTERNAL_TLS_KEY") != "/var/lib/noetl/certs/"+name+".key" || e("NOETL_INTERNAL_TLS_CA") != "/var/lib/noetl/certs/ca.crt" {
			t.Errorf("%s does not present its own certificate", name)
		}
		if name != "router" && (e("NOETL_TLS_CERT") != e("NOETL_INTERNAL_TLS_CERT") || e("NOETL_TLS_CLIENT_CA") != "/var/lib/noetl/certs/ca.crt") {
			t.Errorf("%s listener does not require client certificates of the internal CA", name)
		}
		for _, k := range []string{"NOETL_API_URL", "NOETL_WALLET_URL", "NOETL_BROKER_URL"} {
			if u := e(k); u != "" && !strings.HasPrefix(u, "https://") {
				t.Errorf("%s %s = %s, want https", name, k, u)
			}
		}
	}

	// Secrets come from .env: the example's values arrive, valid.
	if key := project.Services["wallet"].Environment["NOETL_ENCRYPTION_KEY"]; key == nil || *key != env["NOETL_ENCRYPTION_KEY"] || !isBase64Of32(*key) {
		t.Errorf("wallet NOETL_ENCRYPTION_KEY does not come from .env or is not base64 of 32 bytes")
	}
	// The services that serve client and worker routes get both tokens (authentication on
	// by default), and the router, which answers 401 with them on a path it forwards
	// nowhere; the broker serves none.
	for name, wantSet := range map[string]bool{"api": true, "wallet": true, "router": true, "broker": false} {
		for _, v := range []string{"NOETL_API_TOKEN", "NOETL_WORKER_TOKEN"} {
			got := project.Services[name].Environment[v]
			if wantSet && (got == nil || *got == "") {
				t.Errorf("%s: %s is not set", name, v)
			}
			if !wantSet && got != nil {
				t.Errorf("%s sets %s, which it does not use", name, v)
			}
		}
	}
	// The worker sends the worker token, the same value the api and wallet require.
	if got, want := project.Services["worker"].Environment["NOETL_WORKER_TOKEN"], project.Services["api"].Environment["NOETL_WORKER_TOKEN"]; got == nil || want == nil || *got != *want {
		t.Errorf("worker NOETL_WORKER_TOKEN = %v, want the api's %v", got, want)
	}
	// One shared token: with the worker token emptied in .env the worker routes take the
	// api token, so that is what the worker must send.
	shared := exampleEnv(t)
	shared["NOETL_WORKER_TOKEN"] = ""
	sharedProject, err := loadCompose(t, shared)
	if err != nil {
		t.Fatalf("docker-compose.yaml does not load with NOETL_WORKER_TOKEN empty: %v", err)
	}
	if got := sharedProject.Services["worker"].Environment["NOETL_WORKER_TOKEN"]; got == nil || *got != shared["NOETL_API_TOKEN"] {
		t.Errorf("one shared token: worker NOETL_WORKER_TOKEN = %v, want the api token", got)
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

// TestComposeSecretsFromEnvFile: the compose file holds no secret value; without .env
// it refuses to load and names the missing variable, and .env is never committed.
func TestComposeSecretsFromEnvFile(t *testing.T) {
	t.Parallel()
	_, err := loadCompose(t, map[string]string{})
	if err == nil {
		t.Fatal("docker-compose.yaml loads without .env: a secret has a default in the file")
	}
	if !strings.Contains(err.Error(), ".env") {
		t.Errorf("error %q does not point at .env", err)
	}
	for name := range exampleEnv(t) {
		env := exampleEnv(t)
		delete(env, name)
		if _, err := loadCompose(t, env); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v, want an error naming it", name, err)
		}
	}
	root := testkit.RepoRoot(t)
	ignore, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	if err != nil || !slices.Contains(strings.Split(string(ignore), "\n"), "/.env") {
		t.Error(".gitignore does not ignore /.env")
	}
}

// TestComposeRunCommandsRun: a `docker compose run --rm <service> CMD` the repository
// tells users to type runs a binary the service's image has. The image has no
// entrypoint (distroless, ENTRYPOINT []), so CMD's first word must be a binary of the
// service's command; `run --rm certs certs ...` failed with "executable file not found".
func TestComposeRunCommandsRun(t *testing.T) {
	t.Parallel()
	project, err := loadCompose(t, exampleEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	root := testkit.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"), filepath.Join(root, "docker-compose.yaml"))
	run := regexp.MustCompile("docker compose run --rm ([a-z-]+) ([^`\\s]+)")
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range run.FindAllStringSubmatch(string(b), -1) {
			found++
			if _, ok := project.Services[m[1]]; !ok {
				t.Errorf("%s: `docker compose run` of %s, which is no service", filepath.Base(f), m[1])
				continue
			}
			if bin := m[2]; !slices.Contains(binaries(t), bin) {
				t.Errorf("%s: `docker compose run --rm %s %s ...`: %s is not a binary of the image", filepath.Base(f), m[1], bin, bin)
			}
		}
	}
	if found == 0 {
		t.Error("no `docker compose run` instruction found: the certificate rotation steps moved?")
	}
}

// binaries are the executables the Dockerfile's images carry: noetl-<service> for each
// service directory, and the noetl client.
func binaries(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(testkit.RepoRoot(t), "services", "*", "cmd", "noetl-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no services/*/cmd/noetl-*: %v", err)
	}
	out := []string{"noetl"}
	for _, d := range dirs {
		out = append(out, filepath.Base(d))
	}
	return out
}
