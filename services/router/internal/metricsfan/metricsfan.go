// Package metricsfan gathers the upstreams' /metrics and relabels every sample with the
// service it came from (ServiceLabel), so one scrape of the router sees the whole suite.
package metricsfan

import "context"
import "fmt"
import "net/http"
import "net/url"
import "slices"
import "strings"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import dto "github.com/prometheus/client_model/go"
import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/model"
import "google.golang.org/protobuf/proto"

// Upstream is a service whose metrics are gathered.
type Upstream struct {
	Name string
	URL  *url.URL
}

// Gatherer scrapes one upstream. Unreachable upstreams yield no families (their absence
// shows in noetl_router_upstream_up) rather than failing the whole scrape.
type Gatherer struct {
	up      Upstream
	client  *http.Client
	timeout time.Duration
	upGauge prometheus.Gauge
}

// New returns gatherers for the upstreams and registers noetl_router_upstream_up on reg.
func New(ups []Upstream, client *http.Client, reg prometheus.Registerer) []prometheus.Gatherer {
	upVec := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "noetl_router_upstream_up",
		Help: "1 when the last scrape of the upstream's /metrics succeeded.",
	}, []string{"upstream"})
	reg.MustRegister(upVec)
	out := make([]prometheus.Gatherer, 0, len(ups))
	for _, u := range ups {
		out = append(out, &Gatherer{up: u, client: client, timeout: 3 * time.Second, upGauge: upVec.WithLabelValues(u.Name)})
	}
	return out
}

// Gather implements prometheus.Gatherer.
func (g *Gatherer) Gather() ([]*dto.MetricFamily, error) {
	fams, err := g.scrape()
	if err != nil {
		g.upGauge.Set(0)
		return nil, nil
	}
	g.upGauge.Set(1)
	return Relabel(fams, g.up.Name), nil
}

func (g *Gatherer) scrape() (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.up.URL.JoinPath("/metrics").String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s /metrics: HTTP %d", g.up.Name, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// ServiceLabel names the service a sample came from. Not "service": the Prometheus
// Operator gives every ServiceMonitor target a service label (the Kubernetes Service,
// noetl-router here), and Kubernetes service discovery configs commonly do too; a sample's
// own service label then clashed with it and was renamed exported_service (or, with
// honorLabels, had to be allowed to override every target label, namespace included).
const ServiceLabel = "noetl_service"

// Relabel adds noetl_service=<name> to every sample. A sample that carries noetl_service
// already keeps that value as exported_noetl_service (exported_exported_... while taken),
// as Prometheus does with a sample label clashing with a target label: appending a second
// noetl_service would make the whole scrape invalid.
func Relabel(fams map[string]*dto.MetricFamily, service string) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		for _, m := range f.Metric {
			exportClashing(m.Label, ServiceLabel)
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(ServiceLabel), Value: proto.String(service)})
			// The registry's consistency check finds duplicates among neighbours only,
			// and the exposition is expected sorted by label name.
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		}
		out = append(out, f)
	}
	return out
}

// exportClashing renames the label called name, if any, to the first of exported_<name>,
// exported_exported_<name>, ... that the sample does not carry.
func exportClashing(labels []*dto.LabelPair, name string) {
	var clash *dto.LabelPair
	taken := make(map[string]bool, len(labels))
	for _, lp := range labels {
		taken[lp.GetName()] = true
		if lp.GetName() == name {
			clash = lp
		}
	}
	if clash == nil {
		return
	}
	renamed := "exported_" + name
	for taken[renamed] {
		renamed = "exported_" + renamed
	}
	clash.Name = proto.String(renamed)
}
