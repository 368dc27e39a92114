package access

// Table classes every route of every binary, keyed "METHOD /path/template" as gin
// registers it. It is the one place a route's class is declared (docs/security.md lists
// the classes and why each route has its class).
var Table = map[string]Rule{
	// Probes and scrapes: every binary.
	"GET /healthz":  {AnyService, Open, ""},
	"HEAD /healthz": {AnyService, Open, ""},
	"GET /readyz":   {AnyService, Open, ""},
	"HEAD /readyz":  {AnyService, Open, ""},
	"GET /health":   {AnyService, Open, ""},
	"GET /metrics":  {AnyService, Open, ""},

	// router: the OpenAPI document of the public surface.
	"GET /api/openapi.json": {"router", Open, ""},

	// api: health and diagnostics that upstream serves without a gate.
	"GET /api/health":             {"api", Open, ""},
	"GET /api/pool/status":        {"api", Open, ""},
	"GET /api/runtime/shard-info": {"api", Open, ""},

	// api: catalog, database, dashboard (clients).
	"POST /api/catalog/register": {"api", Client, ""},
	"POST /api/catalog/list":     {"api", Client, ""},
	"POST /api/catalog/resource": {"api", Client, ""},
	"GET /api/catalog/*tail":     {"api", Client, ""},
	"POST /api/db/init":          {"api", Client, ""},
	"GET /api/db/validate":       {"api", Client, ""},
	"GET /api/dashboard/stats":   {"api", Client, ""},
	"GET /api/dashboard/widgets": {"api", Client, ""},
	"GET /api/worker/pools":      {"api", Client, ""},

	// api: executions. The worker's playbook tool starts child executions, polls their
	// status and detail, reads a finished child's event log for its returned step and
	// cancels the child of a cancelled parent, so those take either token.
	"POST /api/execute":                                    {"api", ClientOrWorker, ""},
	"GET /api/executions":                                  {"api", Client, ""},
	"GET /api/executions/:execution_id":                    {"api", ClientOrWorker, ""},
	"GET /api/executions/:execution_id/status":             {"api", ClientOrWorker, ""},
	"GET /api/executions/:execution_id/events":             {"api", ClientOrWorker, ""},
	"POST /api/executions/:execution_id/cancel":            {"api", ClientOrWorker, ""},
	"POST /api/executions/:execution_id/finalize":          {"api", Client, ""},
	"GET /api/executions/:execution_id/cancellation-check": {"api", Worker, ""},

	// api: the worker protocol.
	"POST /api/worker/pool/register":     {"api", Worker, ""},
	"POST /api/worker/pool/heartbeat":    {"api", Worker, ""},
	"DELETE /api/worker/pool/deregister": {"api", Worker, ""},
	"POST /api/worker/pool/deregister":   {"api", Worker, ""},
	"POST /api/events":                   {"api", Worker, ""},
	"POST /api/events/batch":             {"api", Worker, ""},
	"GET /api/commands/:event_id":        {"api", Worker, ""},
	"POST /api/commands/:event_id/claim": {"api", Worker, ""},
	"PUT /api/result/:execution_id":      {"api", Worker, ""},
	"GET /api/result/resolve":            {"api", ClientOrWorker, ""},

	// api: variables, which workers set and clients inspect.
	"GET /api/vars/:execution_id":              {"api", ClientOrWorker, ""},
	"POST /api/vars/:execution_id":             {"api", ClientOrWorker, ""},
	"DELETE /api/vars/:execution_id":           {"api", ClientOrWorker, ""},
	"GET /api/vars/:execution_id/:var_name":    {"api", ClientOrWorker, ""},
	"DELETE /api/vars/:execution_id/:var_name": {"api", ClientOrWorker, ""},

	// api: internal routes.
	"POST /api/postgres/execute":                             {"api", Internal, ""},
	"POST /api/internal/outbox/claim":                        {"api", Internal, ""},
	"POST /api/internal/outbox/mark-published":               {"api", Internal, ""},
	"POST /api/internal/outbox/mark-failed":                  {"api", Internal, ""},
	"GET /api/internal/outbox/pending-count":                 {"api", Internal, ""},
	"POST /api/internal/events/project":                      {"api", Internal, ""},
	"GET /internal/runtime/worker-key":                       {"api", Internal, ""},
	"GET /internal/executions/:execution_id/keychain/*alias": {"api", Internal, ""},
	"GET /internal/catalog/:catalog_id":                      {"api", Internal, ""},

	// wallet: credential and keychain management (clients); credential and keychain values
	// (workers). A keychain GET answers the decrypted value of any scope, the provider
	// secrets the resolver caches in an execution's local slot included, so it is worker
	// class like include_data; the catalog listing carries no values. A keychain write
	// takes either token, but one into an execution's own entry (scope local or shared
	// with an execution_id: the slot the resolver caches a provider secret in, or a
	// running execution's value) takes the worker token, which the handler finds in the
	// body and requires with Require.
	"POST /api/credentials":                           {"wallet", Client, ""},
	"GET /api/credentials":                            {"wallet", Client, ""},
	"GET /api/credentials/:identifier":                {"wallet", Client, "include_data"},
	"DELETE /api/credentials/:identifier":             {"wallet", Client, ""},
	"GET /api/credentials/:identifier/sealed":         {"wallet", Worker, ""},
	"GET /api/keychain/catalog/:catalog_id":           {"wallet", Client, ""},
	"GET /api/keychain/:catalog_id/:keychain_name":    {"wallet", Worker, ""},
	"POST /api/keychain/:catalog_id/:keychain_name":   {"wallet", ClientOrWorker, ""},
	"DELETE /api/keychain/:catalog_id/:keychain_name": {"wallet", Client, ""},

	// wallet: internal routes.
	"POST /api/internal/wallet/rotate-kek": {"wallet", Internal, ""},
	"GET /api/internal/wallet/key-status":  {"wallet", Internal, ""},
	"GET /api/internal/secret-audit":       {"wallet", Internal, ""},
	"POST /internal/wallet/seal":           {"wallet", Internal, ""},

	// broker.
	"POST /api/internal/cross-region/resolve": {"broker", Internal, ""},
}

// ReleasesValue lists the GET routes every answer of which carries a secret value (the
// routes whose ValuesParam makes them carry one are marked there). A HEAD never releases
// a value: the gate refuses a HEAD on these routes with 405 before the handler decrypts
// anything or records a release (docs/security.md, "Methods").
var ReleasesValue = map[string]bool{
	"GET /api/credentials/:identifier/sealed":      true,
	"GET /api/keychain/:catalog_id/:keychain_name": true,
}
