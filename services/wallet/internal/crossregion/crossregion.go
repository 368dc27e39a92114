// Package crossregion is the requesting side of the cross-region broker: when a sealed
// fetch is denied here by a strict residency policy, the request goes to the broker of
// the secret's home region, which resolves and seals it there to the worker's key. Only
// the sealed envelope crosses regions (docs/secret-providers.md, "Cross-region broker").
package crossregion

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "net/http"
import "sort"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"

// ParseRegistry reads NOETL_SECRET_BROKER_REGISTRY: a JSON object of region to broker
// base URL. Empty is no registry. A value that is not such an object, or a URL that is
// not http(s), is an error (the wallet refuses to start rather than silently losing its
// fallback). Entries with an empty URL are dropped.
func ParseRegistry(raw string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(raw) == "" {
		return out, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m == nil {
		return nil, errors.New(`NOETL_SECRET_BROKER_REGISTRY: want a JSON object of region to broker URL, e.g. {"eu-central-1": "https://noetl-broker-eu.example.com"}`)
	}
	for region, u := range m {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if region == "" {
			return nil, fmt.Errorf("NOETL_SECRET_BROKER_REGISTRY: broker %q has an empty region", u)
		}
		if _, err := config.HTTPURL(fmt.Sprintf("NOETL_SECRET_BROKER_REGISTRY: region %q", region), u); err != nil {
			return nil, err
		}
		out[region] = strings.TrimRight(u, "/")
	}
	return out, nil
}

// Outcome marks a failed call with its broker outcome.
type Outcome struct{ Name string }

func (o *Outcome) Error() string { return "cross-region broker outcome " + o.Name }

// OutcomeOf is the broker outcome of a Forward error ("" for none).
func OutcomeOf(err error) string {
	var o *Outcome
	if errors.As(err, &o) {
		return o.Name
	}
	return ""
}

// Client calls the brokers of the registry.
type Client struct {
	own     string
	brokers map[string]*internalapi.API
	metrics *internalapi.BrokerMetrics
	now     func() time.Time
}

// Options configure a Client.
type Options struct {
	Registry map[string]string
	// OwnRegion is NOETL_SERVER_REGION, sent as requesting_region.
	OwnRegion string
	// Token is the internal token; every region a wallet forwards to accepts it.
	Token   config.Secret
	TLS     config.ClientTLS
	Timeout time.Duration // NOETL_SECRET_BROKER_TIMEOUT_SECS
	Metrics *internalapi.BrokerMetrics
}

// New builds one client per registered broker.
func New(o Options) (*Client, error) {
	c := &Client{own: o.OwnRegion, brokers: map[string]*internalapi.API{}, metrics: o.Metrics, now: time.Now}
	for region, u := range o.Registry {
		api, err := internalapi.New(internalapi.Config{BaseURL: u, Service: "broker", Var: "NOETL_SECRET_BROKER_REGISTRY",
			Token: o.Token, TLS: o.TLS, Timeout: o.Timeout})
		if err != nil {
			return nil, err
		}
		c.brokers[region] = api
	}
	return c, nil
}

// Regions lists the registered regions, sorted.
func (c *Client) Regions() []string {
	out := make([]string, 0, len(c.brokers))
	for r := range c.brokers {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Has reports whether a broker is registered for region.
func (c *Client) Has(region string) bool {
	if c == nil {
		return false
	}
	_, ok := c.brokers[region]
	return ok
}

// Forward asks the broker of region to resolve the request and seal it to the worker's
// key. Errors carry an *Outcome and a status: the broker's own 4xx (403 for a broker of
// another region: a stale registry), else 502.
func (c *Client) Forward(ctx context.Context, region string, req internalapi.CrossRegionRequest) (sealed.Envelope, error) {
	api, ok := c.brokers[region]
	if !ok {
		return sealed.Envelope{}, fmt.Errorf("no broker registered for region %q", region)
	}
	req.ExpectedEntryRegion, req.RequestingRegion = region, c.own
	start := c.now()
	var env sealed.Envelope
	err := api.PostJSON(ctx, internalapi.CrossRegionPath, req, &env)
	c.metrics.Observe(region, c.now().Sub(start).Seconds())
	if err == nil && (env.Alg != sealed.Alg || env.V != sealed.Version || env.EphPub == "" || env.Ciphertext == "") {
		err = errors.New("the answer is not a sealed envelope")
	}
	outcome := internalapi.BrokerOK
	var se *internalapi.StatusError
	switch {
	case err == nil:
	case errors.As(err, &se):
		outcome = se.Header.Get(internalapi.BrokerOutcomeHeader)
		if !internalapi.KnownBrokerOutcome(outcome) || outcome == internalapi.BrokerOK {
			outcome = internalapi.BrokerUnreachable
			if se.Status < 500 {
				outcome = internalapi.BrokerDenied
			}
		}
	default:
		outcome = internalapi.BrokerUnreachable
	}
	c.metrics.Count(region, outcome)
	if err == nil {
		return env, nil
	}
	mark := &Outcome{Name: outcome}
	if se != nil && se.Status < 500 {
		return sealed.Envelope{}, httpx.WithStatus(se.Status,
			fmt.Sprintf("cross-region broker of region '%s' refused: %s", region, se.Message), errors.Join(mark, err))
	}
	if se != nil && se.Permanent {
		// The peer's wallet reached its secret manager and was refused: not an outage.
		return sealed.Envelope{}, &httpx.Error{Status: http.StatusBadGateway, Permanent: true,
			Msg: fmt.Sprintf("cross-region broker of region '%s' could not resolve: %s", region, se.Message), Err: errors.Join(mark, err)}
	}
	return sealed.Envelope{}, httpx.WithStatus(http.StatusBadGateway,
		fmt.Sprintf("Cross-region broker %s unreachable: %v", api.BaseURL(), err), errors.Join(mark, err))
}
