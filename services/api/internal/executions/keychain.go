package executions

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "sort"
import "strconv"
import "strings"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/apierr"
import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/tmpl"
import "github.com/noetl/controlplane/shared/wire"

// playbookSourcer finds the catalog entry and workload of an execution (eventlog owns
// the tables).
type playbookSourcer interface {
	PlaybookSource(ctx context.Context, executionID int64) (catalogID int64, workload json.RawMessage, err error)
}

// Keychain serves the wallet's GET /internal/executions/{id}/keychain/{alias}: the
// keychain entry alias of the playbook an execution runs, with its map references (or,
// without a provider, its `credential:`) rendered against the execution's workload. The wallet owns no playbook tables and no
// template engine, so the api answers with what the wallet needs to resolve the secret
// (docs/secret-providers.md, "Where a keychain entry comes from").
type Keychain struct {
	store     playbookSourcer
	pool      *pgxpool.Pool
	playbooks *catalog.Cache
	render    *tmpl.Renderer
}

// NewKeychain wires the route; playbooks is the api's parsed-playbook cache.
func NewKeychain(pool *pgxpool.Pool, playbooks *catalog.Cache) *Keychain {
	return &Keychain{store: eventlog.NewExecutionReads(pool), pool: pool, playbooks: playbooks, render: tmpl.Default()}
}

// RegisterInternal adds the route to the /internal group (token-gated by the engine).
func (h *Keychain) RegisterInternal(r gin.IRoutes) {
	// A catch-all, so that an alias holding a slash (escaped or not) arrives whole.
	r.GET("/executions/:execution_id/keychain/*alias", httpx.Handle(h.get))
}

func (h *Keychain) get(c *gin.Context) (internalapi.KeychainDefinition, error) {
	id, err := strconv.ParseInt(c.Param("execution_id"), 10, 64)
	if err != nil {
		return internalapi.KeychainDefinition{}, httpx.BadRequest("path parameter execution_id must be a 64-bit integer")
	}
	alias := strings.TrimPrefix(c.Param("alias"), "/")
	if alias == "" {
		return internalapi.KeychainDefinition{}, httpx.BadRequest("path parameter alias is required")
	}
	ctx := c.Request.Context()
	catalogID, workload, err := h.store.PlaybookSource(ctx, id)
	if err != nil {
		return internalapi.KeychainDefinition{}, apierr.NotFound(err, id)
	}
	pb, err := h.playbooks.Get(ctx, h.pool, catalogID)
	if errors.Is(err, catalog.ErrNotFound) {
		return internalapi.KeychainDefinition{}, httpx.NotFound("catalog entry %d of execution %d not found", catalogID, id)
	}
	if err != nil {
		return internalapi.KeychainDefinition{}, err
	}
	kc, ok := pb.FindKeychain(alias)
	if !ok {
		return internalapi.KeychainDefinition{}, httpx.NotFound("keychain entry '%s' not found in the playbook of execution %d", alias, id)
	}
	def := internalapi.KeychainDefinition{
		ExecutionID: wire.StringID(id), CatalogID: wire.StringID(catalogID),
		Entry: internalapi.KeychainEntry{
			Name: kc.Name, Provider: kc.Provider, Region: kc.Region, Residency: kc.Residency,
			AllowedRegions: kc.AllowedRegions, NoBrokerFallback: kc.NoBrokerFallback,
		},
	}
	if kc.Provider == "" {
		// Without a provider the entry can only stand for a stored credential (the
		// `credential:` indirection); a map would have nothing to resolve it.
		def.Entry.Credential, def.TemplateError = h.renderCredential(kc, workload)
		return def, nil
	}
	def.Entry.Map, def.TemplateError = h.renderMap(kc, workload)
	return def, nil
}

// templateVars is the rendering context: the workload's keys as top-level variables
// (upstream's context: `{{ secret_path }}`), also reachable as `workload.*`.
func templateVars(kc *playbook.KeychainDef, workload []byte) (map[string]any, string) {
	vars := map[string]any{}
	if len(workload) > 0 {
		w, err := jsonx.DecodeObject(workload)
		if err != nil {
			return nil, fmt.Sprintf("keychain '%s': the execution's workload is not a JSON object", kc.Name)
		}
		for k, v := range w {
			vars[k] = v
		}
		vars["workload"] = w
	}
	return vars, ""
}

// renderCredential renders `credential:` as text against the workload and trims it.
func (h *Keychain) renderCredential(kc *playbook.KeychainDef, workload []byte) (string, string) {
	if strings.TrimSpace(kc.Credential) == "" {
		return "", ""
	}
	vars, terr := templateVars(kc, workload)
	if terr != "" {
		return "", terr
	}
	s, err := h.render.RenderString(kc.Credential, vars)
	if err != nil {
		return "", fmt.Sprintf("keychain '%s': credential: %v", kc.Name, err)
	}
	return strings.TrimSpace(s), ""
}

// renderMap renders every map reference as text against the workload. The first failure
// is reported by key, in key order, so that the answer is the same on every call.
func (h *Keychain) renderMap(kc *playbook.KeychainDef, workload []byte) (map[string]string, string) {
	if kc.Map == nil {
		return nil, ""
	}
	vars, terr := templateVars(kc, workload)
	if terr != "" {
		return nil, terr
	}
	keys := make([]string, 0, len(kc.Map))
	for k := range kc.Map {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(kc.Map))
	for _, k := range keys {
		s, err := h.render.RenderString(kc.Map[k], vars)
		if err != nil {
			return nil, fmt.Sprintf("keychain '%s': map key '%s': %v", kc.Name, k, err)
		}
		out[k] = s
	}
	return out, ""
}
