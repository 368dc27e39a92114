package cli

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "net"
import "net/http"
import "os"
import "strconv"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/tlsx"

// healthcheckTimeout bounds one check; the readiness checks behind /readyz take at most
// httpx.CheckTimeout (2 s) each, concurrently.
const healthcheckTimeout = 5 * time.Second

// Healthcheck returns the `healthcheck [--live]` command: it asks this binary's own
// listener (NOETL_HOST, NOETL_PORT, NOETL_TLS_*) for /readyz, or /healthz with --live,
// and succeeds only on 200. Images without a shell or curl (distroless) use it for
// compose health checks, and Kubernetes exec probes use it when the listener requires
// client certificates, which kubelet's HTTP probes cannot present.
func Healthcheck(defaultPort int, stdout io.Writer) Command {
	return Command{
		Name:    "healthcheck",
		Args:    "[--live]",
		Summary: "ask this service's own /readyz (or /healthz with --live); exit 0 only when it answers 200",
		Run: func(ctx context.Context, args []string) error {
			path := "/readyz"
			for _, a := range args {
				switch a {
				case "--live", "-live":
					path = "/healthz"
				default:
					return Usagef("healthcheck: unknown argument %q (want --live or nothing)", a)
				}
			}
			c := config.Common{Port: config.Port(defaultPort)}
			if err := config.LoadFrom(&c, nil); err != nil {
				return ConfigError(err)
			}
			return probe(ctx, c, path, stdout)
		},
	}
}

func probe(ctx context.Context, c config.Common, path string, stdout io.Writer) error {
	tc, err := tlsx.Loopback(c)
	if err != nil {
		return ConfigError(err)
	}
	scheme := "http"
	if tc != nil {
		scheme = "https"
	}
	host := c.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(c.Port))) + path
	client := &http.Client{Timeout: healthcheckTimeout, Transport: &http.Transport{TLSClientConfig: tc}}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		var env struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &env) == nil && env.Error != "" {
			return fmt.Errorf("healthcheck %s: %d: %s", url, resp.StatusCode, env.Error)
		}
		return fmt.Errorf("healthcheck %s: HTTP %d", url, resp.StatusCode)
	}
	if stdout == nil {
		stdout = os.Stdout
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, bytes.TrimSpace(body))
	return nil
}
