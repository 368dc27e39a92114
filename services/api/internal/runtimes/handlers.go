package runtimes

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "strconv"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/shard"
import "github.com/noetl/controlplane/shared/wire"

// IDSource mints runtime ids.
type IDSource interface {
	Next() (int64, error)
}

// Handlers serves the registry routes and shard-info.
type Handlers struct {
	store *Store
	ids   IDSource
	shard shard.Config
	// OnRegister, when set, is told about every registration (metrics).
	OnWrite func(endpoint string, err error)
	// Leases, when set, renews the claims a heartbeat lists.
	Leases LeaseRenewer
}

// LeaseRenewer renews the claims a worker holds on the commands it lists (their
// command.issued event ids) and returns the listed ids it does not hold; the command
// table is not this package's.
type LeaseRenewer interface {
	RenewLeases(ctx context.Context, worker string, eventIDs []int64) (released []int64, err error)
}

// maxHeld bounds the commands one heartbeat may list: a worker runs at most its
// capacity, so a longer list is a broken client, not a busy one.
const maxHeld = 10000

// NewHandlers wires the handlers.
func NewHandlers(store *Store, ids IDSource, sc shard.Config) *Handlers {
	return &Handlers{store: store, ids: ids, shard: sc}
}

// Register adds the routes to r (the /api group).
func (h *Handlers) Register(r gin.IRoutes) {
	r.POST("/worker/pool/register", httpx.HandleWith(httpx.Body[registerRequest], h.register))
	r.POST("/worker/pool/heartbeat", httpx.HandleWith(httpx.Body[heartbeatRequest], h.heartbeat))
	// Upstream routes only DELETE; its own Rust worker sends POST. Accept both.
	r.DELETE("/worker/pool/deregister", httpx.HandleWith(httpx.Body[nameKind], h.deregister))
	r.POST("/worker/pool/deregister", httpx.HandleWith(httpx.Body[nameKind], h.deregister))
	r.GET("/worker/pools", httpx.Handle(h.list))
	r.GET("/runtime/shard-info", httpx.Handle(h.shardInfo))
}

// registerRequest is a registration as posted: the row's fields, but a name that may be
// missing (Name shadows the embedded one; a missing name is a 422, not an empty name),
// the kind's alias component_type, and a status that defaults to active.
type registerRequest struct {
	Registration
	Name          *string `json:"name"`
	ComponentType string  `json:"component_type"`
	Hostname      string  `json:"hostname"` // accepted, not stored (upstream)
	// HeartbeatInterval is how often the worker heart-beats, in seconds; the claim-lease
	// bounds of its commands stretch to a few of them. Upstream's worker sends none. It
	// shadows the row's field, which the row's JSON does not list.
	HeartbeatInterval *float64 `json:"heartbeat_interval_seconds"`
}

// maxHeartbeatInterval bounds a reported heartbeat interval (seconds): a worker silent
// for longer than a day is not heart-beating, and the bound keeps the lease arithmetic
// far from overflow.
const maxHeartbeatInterval = 86400

type nameKind struct {
	Name          *string `json:"name"`
	Kind          string  `json:"kind"`
	ComponentType string  `json:"component_type"`
}

// heartbeatRequest is a heartbeat. Commands, when present (even empty), lists the
// command.issued event ids of every command the worker holds (running or queued): it
// renews their claims and makes the worker's other claims leases that lapse. The
// answer's "released" lists those of them the worker no longer holds.
type heartbeatRequest struct {
	nameKind
	Commands *[]json.RawMessage `json:"commands"`
}

// held parses the listed ids; a bad one is a 422 naming its place.
func (r heartbeatRequest) held() ([]int64, error) {
	if len(*r.Commands) > maxHeld {
		return nil, httpx.Validation("field \"commands\" lists %d commands; at most %d", len(*r.Commands), maxHeld)
	}
	ids := make([]int64, len(*r.Commands))
	for i, raw := range *r.Commands {
		id, err := wire.ParseIDJSON(raw)
		if err != nil {
			return nil, httpx.Validation("field \"commands\"[%d]: %v (a command.issued event id)", i, err)
		}
		ids[i] = id
	}
	return ids, nil
}

func (n nameKind) resolve() (name, kind string, err error) {
	if n.Name == nil || *n.Name == "" {
		return "", "", httpx.Validation("field \"name\" is required")
	}
	if err := checkName(*n.Name); err != nil {
		return "", "", err
	}
	return *n.Name, kindOrDefault(n.Kind, n.ComponentType), nil
}

// checkName validates a runtime name by the worker-id rule: a worker pool's name is the
// id its worker claims commands, posts events and fetches credentials with.
func checkName(name string) error {
	if err := wire.CheckWorkerID(name); err != nil {
		return httpx.Validation("field \"name\" %v", err)
	}
	return nil
}

func kindOrDefault(kind, alias string) string {
	switch {
	case kind != "":
		return kind
	case alias != "":
		return alias
	default:
		return "worker_pool"
	}
}

func (h *Handlers) register(c *gin.Context, req registerRequest) (Runtime, error) {
	rt, err := h.doRegister(c, req)
	if h.OnWrite != nil {
		h.OnWrite("runtime_register", err)
	}
	return rt, err
}

func (h *Handlers) doRegister(c *gin.Context, req registerRequest) (Runtime, error) {
	name, kind, err := nameKind{Name: req.Name, Kind: req.Kind, ComponentType: req.ComponentType}.resolve()
	if err != nil {
		return Runtime{}, err
	}
	if !Kinds[kind] {
		return Runtime{}, httpx.Validation("Invalid runtime kind: %s", kind)
	}
	if every := req.HeartbeatInterval; every != nil && (*every <= 0 || *every > maxHeartbeatInterval) {
		return Runtime{}, httpx.Validation("field \"heartbeat_interval_seconds\" must be more than 0 and at most %d seconds, got %v",
			maxHeartbeatInterval, *every)
	}
	reg := req.Registration
	reg.Name, reg.Kind, reg.HeartbeatInterval = name, kind, req.HeartbeatInterval
	if reg.Status == "" {
		reg.Status = "active"
	}
	// Free text, but indexed: a longer one would only fail in the index, a 500.
	if err := wire.CheckName(reg.Status); err != nil {
		return Runtime{}, httpx.Validation("field \"status\" %v", err)
	}
	id, err := h.ids.Next()
	if err != nil {
		return Runtime{}, httpx.Internal("could not mint a runtime id", err)
	}
	return h.store.Register(c.Request.Context(), id, reg)
}

func (h *Handlers) heartbeat(c *gin.Context, req heartbeatRequest) (gin.H, error) {
	reports := req.Commands != nil
	var held []int64
	if reports {
		var err error
		if held, err = req.held(); err != nil {
			return nil, err
		}
	}
	// Released stays nil (no field) unless the claims were checked: a worker that lists
	// nothing, another kind of runtime, or an api without leases is told nothing.
	var released []int64
	_, _, err := byNameKind(c.Request.Context(), req.nameKind, func(ctx context.Context, kind, name string) error {
		err := h.store.HeartbeatReporting(ctx, kind, name, reports && kind == "worker_pool")
		if err == nil && reports && kind == "worker_pool" && h.Leases != nil {
			released, err = h.Leases.RenewLeases(ctx, name, held)
		}
		if h.OnWrite != nil {
			h.OnWrite("runtime_heartbeat", err)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	answer := gin.H{"status": "ok", "message": "Heartbeat recorded"}
	if released != nil {
		// Decimal strings, as the worker lists them: snowflakes exceed 2^53.
		ids := make([]string, len(released))
		for i, id := range released {
			ids[i] = strconv.FormatInt(id, 10)
		}
		answer["released"] = ids
	}
	return answer, nil
}

func (h *Handlers) deregister(c *gin.Context, req nameKind) (gin.H, error) {
	kind, name, err := byNameKind(c.Request.Context(), req, h.store.Deregister)
	if err != nil {
		return nil, err
	}
	return gin.H{"status": "ok", "message": fmt.Sprintf("Runtime %s %s deregistered", kind, name)}, nil
}

// byNameKind runs op on the row a {name, kind} body names; a row that does not exist is
// a 404.
func byNameKind(ctx context.Context, req nameKind, op func(ctx context.Context, kind, name string) error) (kind, name string, err error) {
	name, kind, err = req.resolve()
	if err == nil {
		err = op(ctx, kind, name)
	}
	return kind, name, notFound(err, kind, name)
}

func notFound(err error, kind, name string) error {
	if errors.Is(err, ErrNotFound) {
		return httpx.NotFound("Runtime not found: %s %s", kind, name)
	}
	return err
}

// list answers GET /api/worker/pools. kind defaults to worker_pool (present but empty:
// every kind) and must be one of Kinds, any case (an unknown kind is a 400 naming them,
// not an empty list); status and name are free text (a runtime reports any status it
// likes), matched exactly and as a substring.
func (h *Handlers) list(c *gin.Context) ([]Pool, error) {
	f := Filter{Kind: "worker_pool", Status: c.Query("status"), Name: c.Query("name")}
	if _, ok := c.GetQuery("kind"); ok {
		var err error
		if f.Kind, err = httpx.QueryOneOf(c, "kind", kindNames...); err != nil {
			return nil, err
		}
	}
	return h.store.List(c.Request.Context(), f)
}

// ShardInfo is the diagnostic response of GET /api/runtime/shard-info (seed shape).
type ShardInfo struct {
	ExecutionID  int64       `json:"execution_id"`
	ShardCount   uint32      `json:"shard_count"`
	ShardIndex   uint32      `json:"shard_index"`
	Source       string      `json:"source"`
	HashFunction string      `json:"hash_function"`
	Seed         int         `json:"seed"`
	ServerConfig ServerShard `json:"server_config"`
}

// ServerShard is this replica's own shard configuration.
type ServerShard struct {
	ShardIndex uint32 `json:"shard_index"`
	ShardCount uint32 `json:"shard_count"`
}

func (h *Handlers) shardInfo(c *gin.Context) (ShardInfo, error) {
	return ComputeShardInfo(c.Query("execution_id"), c.Query("shard_count"), h.shard)
}

// ComputeShardInfo validates the query (the documented 400 rules, README.md) and does the math.
func ComputeShardInfo(rawID, rawCount string, sc shard.Config) (ShardInfo, error) {
	if rawID == "" {
		return ShardInfo{}, httpx.BadRequest("execution_id is required")
	}
	eid, err := strconv.ParseInt(rawID, 10, 64)
	if err != nil {
		return ShardInfo{}, httpx.BadRequest("execution_id %q is not a valid i64", rawID)
	}
	if rawCount == "" {
		return ShardInfo{}, httpx.BadRequest("shard_count is required")
	}
	n, err := strconv.ParseUint(rawCount, 10, 32)
	if err != nil {
		return ShardInfo{}, httpx.BadRequest("shard_count %q is not a valid u32", rawCount)
	}
	if n == 0 {
		return ShardInfo{}, httpx.BadRequest("shard_count must be >= 1")
	}
	if n > shard.MaxCount {
		return ShardInfo{}, httpx.BadRequest("shard_count %d exceeds practical maximum %d", n, shard.MaxCount)
	}
	return ShardInfo{
		ExecutionID:  eid,
		ShardCount:   uint32(n),
		ShardIndex:   shard.For(eid, uint32(n)),
		Source:       "noetl-server",
		HashFunction: "twox_hash::XxHash64",
		Seed:         0,
		ServerConfig: ServerShard{ShardIndex: sc.Index, ShardCount: sc.Count},
	}, nil
}
