package deploy

import "os"
import "path/filepath"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	line int
	cmd  string // upper case: FROM, RUN, USER, ...
	args string
}

func parseDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// nonrootBase reports whether a base image starts as a non-root user: distroless's
// nonroot variants set USER 65532.
func nonrootBase(image string) bool {
	return strings.HasSuffix(image, ":nonroot") || strings.HasSuffix(image, "-nonroot") || strings.Contains(image, ":nonroot@") || strings.Contains(image, "-nonroot@")
}

// TestDockerfilesRunAsRootOnlyToBuild: a RUN step that writes outside /tmp must run as
// root, and every final image runs as the numeric user the chart's runAsNonRoot
// requires. On a distroless nonroot base a RUN runs as 65532 unless the Dockerfile says
// USER root, and cannot create links in /usr/local/bin (the Tilt image's build failed
// there, so `tilt up` never started a pod).
func TestDockerfilesRunAsRootOnlyToBuild(t *testing.T) {
	t.Parallel()
	root := testkit.RepoRoot(t)
	files := []string{filepath.Join(root, "Dockerfile"), filepath.Join(root, "deploy", "dev", "Dockerfile.tilt"), filepath.Join(root, "deploy", "dev", "Dockerfile.tilt-worker")}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			args := map[string]string{}
			user, lastUser := "", ""
			for _, in := range parseDockerfile(t, f) {
				switch in.cmd {
				case "ARG":
					if k, v, ok := strings.Cut(in.args, "="); ok {
						args[k] = v
					}
				case "FROM":
					image := strings.Fields(in.args)[0]
					if strings.HasPrefix(image, "${") {
						image = args[strings.Trim(image, "${}")]
					}
					user = "0"
					if nonrootBase(image) {
						user = "65532"
					}
					lastUser = ""
				case "USER":
					user, lastUser = in.args, in.args
				case "RUN":
					if user != "0" && user != "root" && !strings.HasPrefix(user, "0:") && !strings.HasPrefix(user, "root:") {
						t.Errorf("%s:%d: RUN as user %s (the base image's or a USER line's): %s", filepath.Base(f), in.line, user, in.args)
					}
				}
			}
			if lastUser != "65532:65532" {
				t.Errorf("%s: the final image's last USER is %q, want 65532:65532 (numeric, for runAsNonRoot)", filepath.Base(f), lastUser)
			}
		})
	}
}

// TestDockerfileShipsEveryBinary: the image the compose file and the chart run carries
// noetl-<service> for every service directory on the PATH (/usr/local/bin), and the
// worker image noetl-worker: a new service added without its name in BINARIES would
// leave `noetl-<service> serve` with no executable.
func TestDockerfileShipsEveryBinary(t *testing.T) {
	t.Parallel()
	instrs := parseDockerfile(t, filepath.Join(testkit.RepoRoot(t), "Dockerfile"))
	var built []string
	copies := map[string]bool{}
	for _, in := range instrs {
		if in.cmd == "ARG" && strings.HasPrefix(in.args, "BINARIES=") {
			built = strings.Fields(strings.Trim(strings.TrimPrefix(in.args, "BINARIES="), `"`))
		}
		if in.cmd == "COPY" {
			copies[in.args] = true
		}
	}
	want := map[string]bool{}
	for _, b := range binaries(t) {
		if b != "noetl" && b != "noetl-worker" {
			want[strings.TrimPrefix(b, "noetl-")] = true
		}
	}
	got := map[string]bool{}
	for _, b := range built {
		got[b] = true
	}
	for b := range want {
		if !got[b] {
			t.Errorf("the Dockerfile's BINARIES %v lacks %s", built, b)
		}
	}
	for b := range got {
		if !want[b] {
			t.Errorf("the Dockerfile's BINARIES names %s, which has no services/%s/cmd/noetl-%s", b, b, b)
		}
	}
	for _, c := range []string{"--from=build /out/bin/ /usr/local/bin/", "--from=build /out/worker/noetl-worker /usr/local/bin/noetl-worker"} {
		if !copies[c] {
			t.Errorf("the Dockerfile has no COPY %s", c)
		}
	}
}
