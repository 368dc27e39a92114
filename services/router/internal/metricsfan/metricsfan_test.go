package metricsfan

import "bytes"
import "net"
import "net/http"
import "net/http/httptest"
import "net/url"
import "sort"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import dto "github.com/prometheus/client_model/go"
import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/model"
import "google.golang.org/protobuf/proto"

const upstreamText = `# HELP noetl_http_requests_total HTTP requests served.
# TYPE noetl_http_requests_total counter
noetl_http_requests_total{code="200",method="GET",route="/api/catalog/list"} 7
noetl_http_requests_total{code="404",method="GET",route="unmatched"} 2
# HELP noetl_queue_depth Commands waiting.
# TYPE noetl_queue_depth gauge
noetl_queue_depth 3
# HELP noetl_claim_seconds Claim latency.
# TYPE noetl_claim_seconds histogram
noetl_claim_seconds_bucket{le="0.1"} 1
noetl_claim_seconds_bucket{le="1"} 2
noetl_claim_seconds_bucket{le="+Inf"} 2
noetl_claim_seconds_sum 0.6
noetl_claim_seconds_count 2
`

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		if _, dup := out[lp.GetName()]; dup {
			out["DUPLICATE:"+lp.GetName()] = lp.GetValue()
		}
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func TestRelabel(t *testing.T) {
	t.Parallel()
	fams := map[string]*dto.MetricFamily{
		"a_total": {
			Name: proto.String("a_total"), Type: dto.MetricType_COUNTER.Enum(),
			Metric: []*dto.Metric{
				{Label: []*dto.LabelPair{{Name: proto.String("code"), Value: proto.String("200")}}, Counter: &dto.Counter{Value: proto.Float64(1)}},
				{Counter: &dto.Counter{Value: proto.Float64(2)}},
			},
		},
		"b": {Name: proto.String("b"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(3)}}}},
	}
	out := Relabel(fams, "wallet")
	if len(out) != 2 {
		t.Fatalf("Relabel returned %d families, want 2", len(out))
	}
	n := 0
	for _, f := range out {
		for _, m := range f.Metric {
			n++
			l := labels(m)
			if l["noetl_service"] != "wallet" {
				t.Errorf("%s %v: noetl_service label = %q", f.GetName(), l, l["noetl_service"])
			}
		}
	}
	if n != 3 {
		t.Errorf("%d samples, want 3", n)
	}
	// Existing labels are kept.
	for _, f := range out {
		if f.GetName() == "a_total" {
			if l := labels(f.Metric[0]); l["code"] != "200" {
				t.Errorf("existing label lost: %v", l)
			}
		}
	}
	if got := Relabel(nil, "x"); len(got) != 0 {
		t.Errorf("Relabel(nil) = %v", got)
	}
}

// TestRelabelKeepsUpstreamServiceLabel: a sample that already carries noetl_service (an
// upstream that is itself a fan-in, or a metric labelled so by its author) must not come
// out with the label twice, which makes Prometheus reject the whole scrape. As Prometheus
// does with a sample label that clashes with a target label, the router's value wins and
// the upstream one is kept as exported_noetl_service (exported_exported_... if that is
// taken too).
func TestRelabelKeepsUpstreamServiceLabel(t *testing.T) {
	t.Parallel()
	lp := func(kv ...string) []*dto.LabelPair {
		var out []*dto.LabelPair
		for i := 0; i < len(kv); i += 2 {
			out = append(out, &dto.LabelPair{Name: proto.String(kv[i]), Value: proto.String(kv[i+1])})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []*dto.LabelPair
		want map[string]string
	}{
		{"none", lp("code", "200"), map[string]string{"code": "200", "noetl_service": "api"}},
		{"upstream has it", lp("code", "200", "noetl_service", "worker"),
			map[string]string{"code": "200", "noetl_service": "api", "exported_noetl_service": "worker"}},
		{"exported one taken too", lp("exported_noetl_service", "a", "noetl_service", "b"),
			map[string]string{"noetl_service": "api", "exported_noetl_service": "a", "exported_exported_noetl_service": "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fams := map[string]*dto.MetricFamily{"c_total": {Name: proto.String("c_total"), Type: dto.MetricType_COUNTER.Enum(),
				Metric: []*dto.Metric{{Label: tc.in, Counter: &dto.Counter{Value: proto.Float64(1)}}}}}
			out := Relabel(fams, "api")
			got := labels(out[0].Metric[0])
			if len(got) != len(tc.want) {
				t.Errorf("labels %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("label %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			// The registry's consistency check (duplicates among sorted names) passes.
			if _, err := (prometheus.Gatherers{gathererFunc(func() ([]*dto.MetricFamily, error) { return out, nil })}).Gather(); err != nil {
				t.Errorf("relabelled family is inconsistent: %v", err)
			}
		})
	}
}

func serveText(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func deadURL(t *testing.T) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return mustURL(t, "http://"+addr)
}

func upValue(t *testing.T, reg *prometheus.Registry, upstream string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "noetl_router_upstream_up" {
			continue
		}
		for _, m := range f.Metric {
			if labels(m)["upstream"] == upstream {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestGathererLabelsUpstreamFamilies(t *testing.T) {
	t.Parallel()
	up := serveText(t, 200, upstreamText)
	reg := prometheus.NewRegistry()
	gs := New([]Upstream{{Name: "api", URL: mustURL(t, up.URL)}}, &http.Client{Timeout: 5 * time.Second}, reg)
	if len(gs) != 1 {
		t.Fatalf("New returned %d gatherers", len(gs))
	}
	fams, err := gs[0].Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
		for _, m := range f.Metric {
			if l := labels(m); l["noetl_service"] != "api" {
				t.Errorf("%s %v lacks noetl_service=api", f.GetName(), l)
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := []string{"noetl_claim_seconds", "noetl_http_requests_total", "noetl_queue_depth"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("families = %v, want %v", names, want)
	}
	if f := byName["noetl_http_requests_total"]; f == nil || len(f.Metric) != 2 || f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("requests family = %v", f)
	}
	if f := byName["noetl_claim_seconds"]; f == nil || f.Metric[0].GetHistogram().GetSampleCount() != 2 {
		t.Errorf("histogram family = %v", f)
	}
	if v, ok := upValue(t, reg, "api"); !ok || v != 1 {
		t.Errorf("noetl_router_upstream_up{upstream=api} = %v (present %v), want 1", v, ok)
	}
}

func TestGathererUnreachableUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  func(t *testing.T) *url.URL
	}{
		{"connection refused", deadURL},
		{"HTTP 500", func(t *testing.T) *url.URL { return mustURL(t, serveText(t, 500, "oops").URL) }},
		{"not Prometheus text", func(t *testing.T) *url.URL { return mustURL(t, serveText(t, 200, "{{{ not metrics").URL) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			good := serveText(t, 200, upstreamText)
			gs := New([]Upstream{
				{Name: "wallet", URL: tc.url(t)},
				{Name: "api", URL: mustURL(t, good.URL)},
			}, &http.Client{Timeout: 5 * time.Second}, reg)
			fams, err := gs[0].Gather()
			if err != nil {
				t.Errorf("Gather of a broken upstream failed the scrape: %v", err)
			}
			if len(fams) != 0 {
				t.Errorf("broken upstream yielded %d families", len(fams))
			}
			if v, ok := upValue(t, reg, "wallet"); !ok || v != 0 {
				t.Errorf("noetl_router_upstream_up{upstream=wallet} = %v (present %v), want 0", v, ok)
			}
			// The healthy upstream is unaffected.
			if fams, _ := gs[1].Gather(); len(fams) == 0 {
				t.Error("healthy upstream yielded nothing")
			}
			if v, _ := upValue(t, reg, "api"); v != 1 {
				t.Errorf("noetl_router_upstream_up{upstream=api} = %v, want 1", v)
			}
		})
	}
}

func TestGathererRecovers(t *testing.T) {
	t.Parallel()
	status := make(chan int, 1)
	status <- 500
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := <-status
		status <- 200
		w.WriteHeader(s)
		if s == 200 {
			_, _ = w.Write([]byte(upstreamText))
		}
	}))
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	g := New([]Upstream{{Name: "broker", URL: mustURL(t, srv.URL)}}, &http.Client{Timeout: 5 * time.Second}, reg)[0]
	if fams, _ := g.Gather(); len(fams) != 0 {
		t.Error("failing scrape yielded families")
	}
	if v, _ := upValue(t, reg, "broker"); v != 0 {
		t.Errorf("up = %v after a failure", v)
	}
	if fams, _ := g.Gather(); len(fams) == 0 {
		t.Error("recovered scrape yielded nothing")
	}
	if v, _ := upValue(t, reg, "broker"); v != 1 {
		t.Errorf("up = %v after recovery", v)
	}
}

// TestCombinedExposition: the router's own registry and an upstream's families, both
// exposing the same metric names, merge into one valid exposition told apart by service.
func TestCombinedExposition(t *testing.T) {
	t.Parallel()
	// The upstream serves what a real service registry serves.
	upReg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "noetl_http_requests_total", Help: "HTTP requests served."}, []string{"code"})
	upReg.MustRegister(c)
	c.WithLabelValues("200").Add(5)
	var buf bytes.Buffer
	ufams, _ := upReg.Gather()
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range ufams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	up := serveText(t, 200, buf.String())

	routerReg := prometheus.NewRegistry()
	rc := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "noetl_http_requests_total", Help: "HTTP requests served."}, []string{"code"})
	routerReg.MustRegister(rc)
	rc.WithLabelValues("200").Add(9)

	own := gathererFunc(func() ([]*dto.MetricFamily, error) {
		fams, err := routerReg.Gather()
		m := map[string]*dto.MetricFamily{}
		for _, f := range fams {
			m[f.GetName()] = f
		}
		return Relabel(m, "router"), err
	})
	all := prometheus.Gatherers{own}
	all = append(all, New([]Upstream{{Name: "api", URL: mustURL(t, up.URL)}}, &http.Client{Timeout: 5 * time.Second}, routerReg)...)
	fams, err := all.Gather()
	if err != nil {
		t.Fatalf("combined gather: %v", err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "noetl_http_requests_total" {
			continue
		}
		for _, m := range f.Metric {
			l := labels(m)
			if l["code"] != "200" {
				t.Errorf("sample %v lost its code label", l)
			}
			got[l["noetl_service"]] = m.GetCounter().GetValue()
		}
	}
	if len(got) != 2 || got["api"] != 5 || got["router"] != 9 {
		t.Errorf("noetl_http_requests_total by service = %v, want api 5, router 9", got)
	}
	// The merged families encode to text a Prometheus server parses back.
	var out bytes.Buffer
	enc = expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatalf("encode %s: %v", f.GetName(), err)
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(&out)
	if err != nil {
		t.Fatalf("combined exposition does not parse: %v", err)
	}
	if f := parsed["noetl_http_requests_total"]; f == nil || len(f.Metric) != 2 {
		t.Errorf("parsed exposition: %v", f)
	}
}

type gathererFunc func() ([]*dto.MetricFamily, error)

func (f gathererFunc) Gather() ([]*dto.MetricFamily, error) { return f() }

// TestServiceLabelIsNoTargetLabel: the label naming a sample's service is none Prometheus
// sets on a scrape target itself or through the Prometheus Operator and the usual
// Kubernetes service discovery configs. It was "service", which every ServiceMonitor target
// carries (the Kubernetes Service, noetl-router): the samples' own one came out renamed
// exported_service, or the chart had to honor the samples' labels over all the target's.
func TestServiceLabelIsNoTargetLabel(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"job", "instance", "namespace", "service", "pod", "container",
		"endpoint", "node", "component", "app"} { // the last ones: the chart's Service labels, mapped by common configs
		t.Run(target, func(t *testing.T) {
			if ServiceLabel == target {
				t.Errorf("the fan-in label %q clashes with the target label %q", ServiceLabel, target)
			}
		})
	}
	if !model.LabelName(ServiceLabel).IsValid() || strings.HasPrefix(ServiceLabel, "__") {
		t.Errorf("%q is not a valid, unreserved label name", ServiceLabel)
	}
}
