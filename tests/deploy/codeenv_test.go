package deploy

import "go/ast"
import "go/parser"
import "go/token"
import "go/types"
import "os"
import "path/filepath"
import "reflect"
import "regexp"
import "strconv"
import "strings"
import "testing"

import "helm.sh/helm/v3/pkg/chartutil"

import "github.com/noetl/controlplane/shared/testkit"

// codeVar is one environment variable a binary reads: its caarlos0/env tag and default.
type codeVar struct {
	Default    string
	HasDefault bool
	Type       string // the field's type as written (config.Secret)
}

// binaryEnv is what each binary reads, found by walking its Config struct in the source
// (the services' config packages are internal, so the tests cannot import them): every
// field with an env tag, and every struct field without one (caarlos0/env parses nested
// and embedded structs), resolved across the workspace's packages.
type binaryEnv map[string]map[string]codeVar

// binaryLetters are the README's "used by" letters.
var binaryLetters = map[string]string{"router": "R", "api": "A", "wallet": "W", "broker": "B", "worker": "K"}

const modulePrefix = "github.com/noetl/controlplane/"

// goPkg is one parsed package: its struct types and its files' imports.
type goPkg struct {
	structs map[string]*ast.StructType
	imports map[*ast.StructType]map[string]string // per struct: import name -> path
}

type sourceTree struct {
	root string
	pkgs map[string]*goPkg // by import path
}

func (s *sourceTree) pkg(t *testing.T, path string) *goPkg {
	t.Helper()
	if p, ok := s.pkgs[path]; ok {
		return p
	}
	dir := filepath.Join(s.root, filepath.FromSlash(strings.TrimPrefix(path, modulePrefix)))
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("package %s: %v", path, err)
	}
	p := &goPkg{structs: map[string]*ast.StructType{}, imports: map[*ast.StructType]map[string]string{}}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", e.Name(), err)
		}
		imports := map[string]string{}
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			name := ip[strings.LastIndex(ip, "/")+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			imports[name] = ip
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					p.structs[ts.Name.Name] = st
					p.imports[st] = imports
				}
			}
			return true
		})
	}
	s.pkgs[path] = p
	return p
}

// collect adds the variables of struct name in package path to out.
func (s *sourceTree) collect(t *testing.T, path, name string, out map[string]codeVar) {
	t.Helper()
	p := s.pkg(t, path)
	st, ok := p.structs[name]
	if !ok {
		return // not a struct of ours (a named scalar such as config.Secret)
	}
	for _, f := range st.Fields.List {
		tag := ""
		if f.Tag != nil {
			raw, _ := strconv.Unquote(f.Tag.Value)
			tag = raw
		}
		tags := reflect.StructTag(tag)
		if key, ok := tags.Lookup("env"); ok {
			key = strings.Split(key, ",")[0]
			if key == "-" {
				continue
			}
			def, has := tags.Lookup("envDefault")
			out[key] = codeVar{Default: def, HasDefault: has, Type: types.ExprString(f.Type)}
			continue
		}
		// A field without an env tag: a nested struct of ours is parsed too.
		switch typ := f.Type.(type) {
		case *ast.Ident:
			s.collect(t, path, typ.Name, out)
		case *ast.SelectorExpr:
			pkgName, _ := typ.X.(*ast.Ident)
			if pkgName == nil {
				continue
			}
			if ip := p.imports[st][pkgName.Name]; strings.HasPrefix(ip, modulePrefix) {
				s.collect(t, ip, typ.Sel.Name, out)
			}
		}
	}
}

// readBinaryEnv reads the Config struct of every binary.
func readBinaryEnv(t *testing.T) binaryEnv {
	t.Helper()
	src := &sourceTree{root: testkit.RepoRoot(t), pkgs: map[string]*goPkg{}}
	out := binaryEnv{}
	for bin := range binaryLetters {
		vars := map[string]codeVar{}
		src.collect(t, modulePrefix+"services/"+bin+"/internal/app", "Config", vars)
		if len(vars) < 10 {
			t.Fatalf("noetl-%s: found only %d variables in its Config: the source walk is broken", bin, len(vars))
		}
		out[bin] = vars
	}
	return out
}

// reads reports whether binary reads name.
func (b binaryEnv) reads(binary, name string) bool {
	_, ok := b[binary][name]
	return ok
}

// envRow is a row of the README's table of the services' variables.
type envRow struct {
	Default string
	UsedBy  map[string]bool // binaries, by name
}

// readmeEnvTable reads the README's five-column table of the services' variables (not
// make run's own three-column table).
func readmeEnvTable(t *testing.T) map[string]envRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	byLetter := map[string]string{}
	for bin, l := range binaryLetters {
		byLetter[l] = bin
	}
	out := map[string]envRow{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) != 5 {
			continue
		}
		name := strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")
		row := envRow{Default: cells[1], UsedBy: map[string]bool{}}
		for _, l := range strings.Fields(cells[3]) {
			bin, ok := byLetter[l]
			if !ok {
				t.Errorf("README row %s: unknown binary letter %q in %q", name, l, cells[3])
			}
			row.UsedBy[bin] = true
		}
		out[name] = row
	}
	if len(out) < 100 {
		t.Fatalf("README's environment table looks empty (%d rows)", len(out))
	}
	return out
}

// TestEnvTableMatchesCode: the README's environment table is the binaries' Config
// structs: every variable a binary reads has a row naming that binary and the code's
// default, and every binary a row names reads the variable.
func TestEnvTableMatchesCode(t *testing.T) {
	t.Parallel()
	code := readBinaryEnv(t)
	rows := readmeEnvTable(t)
	for bin, vars := range code {
		for name, v := range vars {
			row, ok := rows[name]
			switch {
			case !ok:
				t.Errorf("noetl-%s reads %s, which the README's table lacks", bin, name)
			case !row.UsedBy[bin]:
				t.Errorf("noetl-%s reads %s, but its README row names only %v", bin, name, row.UsedBy)
			case v.HasDefault && v.Default != "" && !strings.Contains(row.Default, "`"+v.Default+"`"):
				t.Errorf("%s: noetl-%s defaults to %q, the README says %s", name, bin, v.Default, row.Default)
			}
		}
	}
	for name, row := range rows {
		for bin := range row.UsedBy {
			if !code.reads(bin, name) {
				t.Errorf("README: %s is used by noetl-%s, which does not read it", name, bin)
			}
		}
	}
}

// binaryOf names the binary a container command runs ("noetl-api migrate" -> api).
func binaryOf(command []string) string {
	if len(command) == 0 {
		return ""
	}
	return strings.TrimPrefix(command[0], "noetl-")
}

// deployedEnv is one place a deployment sets a variable for a binary.
type deployedEnv struct {
	where, binary, name string
	value               *string // nil: from a Secret or a field
}

func chartEnv(t *testing.T, profile string, r rendered) []deployedEnv {
	t.Helper()
	var out []deployedEnv
	for _, m := range workloads(r) {
		ps := podSpec(m)
		for _, c := range append(ps.InitContainers, ps.Containers...) {
			for _, e := range c.Env {
				d := deployedEnv{where: "chart (" + profile + ") " + m.Kind + " " + m.Name + "/" + c.Name, binary: binaryOf(c.Command), name: e.Name}
				if e.ValueFrom == nil {
					v := e.Value
					d.value = &v
				}
				out = append(out, d)
			}
		}
	}
	return out
}

func composeEnv(t *testing.T) []deployedEnv {
	t.Helper()
	project, err := loadCompose(t, exampleEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []deployedEnv
	for name, svc := range project.Services {
		if !strings.HasPrefix(svc.Image, "noetl-") {
			continue // PostgreSQL and NATS
		}
		for k, v := range svc.Environment {
			out = append(out, deployedEnv{where: "docker-compose.yaml " + name, binary: binaryOf(svc.Command), name: k, value: v})
		}
	}
	return out
}

// deployments renders the chart in the profiles a user meets and loads the compose file.
func deployments(t *testing.T) []deployedEnv {
	t.Helper()
	out := composeEnv(t)
	profiles := map[string]map[string]any{
		"default":    nil,
		"production": productionValues,
		"system pool": {"worker": map[string]any{"segment": "system", "clientTls": map[string]any{"secretName": "worker-tls"}}, "nats": map[string]any{"user": "noetl"},
			"tls": map[string]any{"enabled": true, "mtls": true, "secretName": "router-tls"},
			"api": map[string]any{"retentionMaxAge": "720h", "sql": map[string]any{"databaseUrlSecretKey": "sql-url"}}},
		"init migrations": {"migrate": map[string]any{"mode": "initContainer"}},
		"dynamic providers": {"wallet": map[string]any{"dynamicProviders": map[string]any{"gcpImpersonateSa": "a@p.iam.gserviceaccount.com",
			"azureTenantId": "t", "azureClientId": "c"}, "vaultKubernetesAuth": map[string]any{"role": "noetl-wallet"}, "serverRegion": "eu", "brokerRegistry": `{"us":"https://b"}`,
			"kmsProvider": "gcp-kms", "gcpKmsKey": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}, "broker": map[string]any{"serverRegion": "eu"}},
	}
	for name, values := range profiles {
		out = append(out, chartEnv(t, name, install(t, values))...)
	}
	// The renders without a cluster: GitOps, and Tilt's development values.
	out = append(out, chartEnv(t, "gitops", mustRender(t, gitopsValues, nil))...)
	dev, err := chartutil.ReadValuesFile(filepath.Join(testkit.RepoRoot(t), "deploy", "dev", "values-dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, chartEnv(t, "tilt", mustRender(t, dev.AsMap(), nil))...)
	return out
}

// TestDeployedEnvIsRead: every variable the chart and the compose file set is read by
// the binary it is set for (a misspelt or renamed variable would be silently ignored).
func TestDeployedEnvIsRead(t *testing.T) {
	t.Parallel()
	code := readBinaryEnv(t)
	for _, d := range deployments(t) {
		if _, ok := code[d.binary]; !ok {
			t.Errorf("%s runs %q, not a binary of the suite", d.where, d.binary)
			continue
		}
		if !code.reads(d.binary, d.name) {
			t.Errorf("%s sets %s, which noetl-%s does not read", d.where, d.name, d.binary)
		}
	}
}

// TestSecretVarsDocumented: the README's list of the variables that take <NAME>_FILE is
// the set of config.Secret fields (shared/config reads the file for exactly those, but
// for one whose <NAME>_FILE is a variable of its own).
func TestSecretVarsDocumented(t *testing.T) {
	t.Parallel()
	want := map[string]bool{}
	for _, vars := range readBinaryEnv(t) {
		for name, v := range vars {
			// A <NAME>_FILE the binary reads itself keeps its own meaning.
			if _, own := vars[name+"_FILE"]; !own && (v.Type == "config.Secret" || v.Type == "Secret") {
				want[name] = true
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(b), "<!-- secret-vars -->")
	list, _, ok2 := strings.Cut(list, "<!-- /secret-vars -->")
	if !ok || !ok2 {
		t.Fatal("README has no <!-- secret-vars --> list")
	}
	got := map[string]bool{}
	for _, f := range strings.Split(list, "`") {
		if f = strings.TrimSpace(f); f != "" && f != "," && f != "." && !strings.ContainsAny(f, " ,.") {
			got[f] = true
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("%s is a secret (it takes %s_FILE) but the README's list lacks it", name, name)
		}
	}
	for name := range got {
		if !want[name] {
			t.Errorf("the README lists %s as a secret, but no binary reads it as one", name)
		}
	}
}

// TestDeployedDefaultsMatchCode: a variable the chart (default values) or the compose
// file sets to a fixed value holds the code's default, unless the deployment means to
// differ (listed here with the reason); a changed default in the code cannot leave the
// deployments on the old one unnoticed. An empty value counts as the default, as
// caarlos0/env reads it.
func TestDeployedDefaultsMatchCode(t *testing.T) {
	t.Parallel()
	intended := map[string]string{
		"worker NOETL_SEALED_CREDENTIALS": "true", // credentials sealed to each worker's own key
		"worker NOETL_SHUTDOWN_TIMEOUT":   "60s",  // commands in hand may finish (the grace period follows)
	}
	// Where the other services are: a deployment's own addresses, never the defaults.
	addresses := map[string]bool{"POSTGRES_HOST": true, "NOETL_API_URL": true, "NOETL_WALLET_URL": true, "NOETL_BROKER_URL": true, "NOETL_SERVER_URL": true}
	code := readBinaryEnv(t)
	envs := composeEnv(t)
	envs = append(envs, chartEnv(t, "default", install(t, nil))...)
	for _, d := range envs {
		cv, ok := code[d.binary][d.name]
		if !ok || !cv.HasDefault || d.value == nil || *d.value == "" || addresses[d.name] {
			continue
		}
		want := cv.Default
		if v, ok := intended[d.binary+" "+d.name]; ok {
			want = v
		}
		if *d.value != want {
			t.Errorf("%s sets %s=%q; noetl-%s's default is %q", d.where, d.name, *d.value, d.binary, want)
		}
	}
}

// TestChartSecretsNeverPlain: the chart hands every secret variable (a config.Secret
// field of the binary) to its pod through a secretKeyRef, never as a plain env value,
// which anyone who can read the workload (kubectl get -o yaml, GitOps diffs) would see.
func TestChartSecretsNeverPlain(t *testing.T) {
	t.Parallel()
	code := readBinaryEnv(t)
	for _, d := range deployments(t) {
		if strings.HasPrefix(d.where, "docker-compose.yaml") {
			continue // compose has no Secret objects: its secrets come from .env
		}
		v, ok := code[d.binary][d.name]
		if ok && (v.Type == "config.Secret" || v.Type == "Secret") && d.value != nil {
			t.Errorf("%s sets the secret %s as a plain value", d.where, d.name)
		}
	}
}

// TestRunLocalTableMatchesScripts: the README's `make run` table is the NOETL_RUN_*
// variables scripts/run-local.sh and scripts/deps.sh read, with their defaults.
func TestRunLocalTableMatchesScripts(t *testing.T) {
	t.Parallel()
	root := testkit.RepoRoot(t)
	read := regexp.MustCompile(`\$\{(NOETL_RUN_[A-Z_]+):-([^}]*)\}`)
	code := map[string]string{}
	for _, f := range []string{"run-local.sh", "deps.sh"} {
		b, err := os.ReadFile(filepath.Join(root, "scripts", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range read.FindAllStringSubmatch(string(b), -1) {
			code[m[1]] = strings.TrimPrefix(m[2], "$ROOT/")
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(NOETL_RUN_[A-Z_]+)` \\| `([^`]*)` \\|")
	docs := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		docs[m[1]] = m[2]
	}
	if len(code) < 5 {
		t.Fatalf("found only %v in the scripts", code)
	}
	for name, def := range code {
		if got, ok := docs[name]; !ok {
			t.Errorf("the scripts read %s, which the README's make run table lacks", name)
		} else if got != def {
			t.Errorf("%s: the scripts default to %q, the README says %q", name, def, got)
		}
	}
	for name := range docs {
		if _, ok := code[name]; !ok {
			t.Errorf("the README documents %s, which no script reads", name)
		}
	}
}
