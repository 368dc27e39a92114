package playbook

import "strings"

// Playbook is a parsed, validated playbook (apiVersion noetl.io/v2, kind Playbook).
// Maps and lists inside it hold the shared value model and are kept unrendered.
type Playbook struct {
	APIVersion string
	Kind       string
	Metadata   Metadata
	// Workload is the `workload:` block as written; only an object contributes to the
	// execution's workload (see WorkloadMap).
	Workload any
	Vars     map[string]any
	Keychain []KeychainDef
	Workbook []WorkbookEntry
	Workflow []*Step
	// Extra holds top-level keys the language does not define (spec, executor, ...).
	Extra map[string]any
	// Raw is the whole document as a value.
	Raw map[string]any

	steps map[string]*Step
	// strayOnError are the on_error keys written outside a step's spec, which Validate
	// refuses.
	strayOnError []strayKey
	// timeouts are the step and tool timeout keys, which Validate checks.
	timeouts []timeoutKey
}

// Metadata is the `metadata:` block.
type Metadata struct {
	Name        string
	Path        string
	Description string
	Version     string
	Labels      map[string]string
	Extra       map[string]any
}

// Step is one entry of `workflow:`.
type Step struct {
	Name string
	Line int // line of the step in the YAML source
	Desc string
	Spec StepSpec
	// When is the enable guard (`when:`), empty when absent.
	When string
	// Args is the step-level `args:` map, shipped unrendered with the command.
	Args map[string]any
	// Input is the step-level `input:` map, to be merged under the tool's input with
	// the tool's keys winning (upstream HEAD drops it; we keep it).
	Input map[string]any
	Vars  map[string]any
	// Set is the step-level `set:` (rendered by the engine when the step completes).
	Set  map[string]any
	Loop *Loop
	Tool Tool
	// Next is nil for a step without `next:` (a terminal step).
	Next *Next
	// Extra holds step keys the language does not define (sink, save, ...).
	Extra map[string]any
	// Raw is the step as written (before workbook resolution).
	Raw map[string]any

	hasTool bool
}

// StepSpec is the step's `spec:` block.
type StepSpec struct {
	// NextMode is the default routing mode for a list of targets or a router without
	// its own spec.mode.
	NextMode string
	Timeout  string
	// OnError is "continue" to complete a failed step with the error in its result, or
	// "fail" (the default); Validate refuses any other value.
	OnError string
	// Raw is the whole spec block (policy, ...), unrendered.
	Raw map[string]any

	onErrorLine int
}

// On_error values.
const (
	OnErrorContinue = "continue"
	OnErrorFail     = "fail"
)

// ContinueOnError reports whether spec.on_error is "continue" (any case).
func (s StepSpec) ContinueOnError() bool {
	return strings.EqualFold(strings.TrimSpace(s.OnError), OnErrorContinue)
}

// Tool is a step's `tool:`: either one tool (Single) or a pipeline of tasks.
type Tool struct {
	Single   *ToolSpec
	Pipeline []PipelineTask
}

// IsPipeline reports whether the tool is a list of tasks.
func (t Tool) IsPipeline() bool { return t.Single == nil }

// Kind is the command's tool kind: the single tool's kind, or task_sequence for a
// pipeline.
func (t Tool) Kind() string {
	if t.Single != nil {
		return t.Single.Kind
	}
	return KindTaskSequence
}

// Labels lists a pipeline's task labels in pipeline order (nil for a single tool).
func (t Tool) Labels() []string {
	if t.Single != nil {
		return nil
	}
	out := make([]string, len(t.Pipeline))
	for i, p := range t.Pipeline {
		out[i] = p.Label
	}
	return out
}

// Config is the upstream-compatible `tool_config` before rendering: the tool map as
// written for a single tool, and [{<label>: <task map>}, ...] for a pipeline (flat
// items normalised to the labelled shape, the `name` key removed).
func (t Tool) Config() any {
	if t.Single != nil {
		return t.Single.Raw
	}
	out := make([]any, len(t.Pipeline))
	for i, p := range t.Pipeline {
		out[i] = map[string]any{p.Label: p.Tool.Raw}
	}
	return out
}

// ToolSpec is one tool: a single step tool, a pipeline task or a workbook entry's tool.
type ToolSpec struct {
	Kind string
	// Name is the `name:` key (the workbook action for kind workbook).
	Name string
	Eval []EvalEntry
	Auth any
	Libs any
	// Input is `input:` (or its alias `args:`), nil when absent.
	Input      any
	HasInput   bool
	Code       string
	URL        string
	Method     string
	Query      string
	Command    string
	Connection string
	// Params is `params:`: a mapping (http query parameters) or a list (postgres
	// positional parameters, $1, $2, ...); nil when absent.
	Params       any
	Headers      map[string]string
	OutputSelect any
	// Spec is the tool's `spec:` (policy rules), which reaches the worker unrendered.
	Spec map[string]any
	// Set is a pipeline task's `set:`, evaluated by the worker.
	Set map[string]any
	// Extra holds every other key (path, return_step, result, timeout, ...).
	Extra map[string]any
	// Raw is the tool map as the command carries it (for a workbook reference: the
	// workbook entry's tool with the merged input).
	Raw map[string]any
	// Workbook names the workbook entry this tool was resolved from, if any.
	Workbook string
}

// PipelineTask is one item of a list-shaped `tool:`.
type PipelineTask struct {
	Label string
	// Flat is true for the `- name: x, kind: ...` item shape, false for `- x: {kind: ...}`.
	Flat bool
	Tool ToolSpec
	Line int
}

// EvalEntry is one entry of a tool's `eval:` list.
type EvalEntry struct {
	Expr     string
	Do       string
	Attempts any
	Backoff  any
	Delay    any
	SetVars  map[string]any
	Target   string
	// Else is set for an `{else: {do, set_vars}}` entry.
	Else *EvalElse
	Raw  map[string]any
}

// EvalElse is the body of an `else:` eval entry.
type EvalElse struct {
	Do      string
	SetVars map[string]any
}

// Loop is a step's `loop:`.
type Loop struct {
	// In is loop.in as text: the template as written, or a literal list or mapping's
	// JSON text.
	In string
	// Literal is loop.in written as a YAML list or mapping (nil for a template string):
	// the engine renders it leaf by leaf, so an item that renders to an object, or to
	// text holding a quote or a comma, stays one item.
	Literal  any
	Iterator string
	// Mode is "sequential" (the default) or "parallel".
	Mode string
	// MaxInFlight caps parallel iterations; 0 means no cap.
	MaxInFlight int64
	Spec        map[string]any
	Raw         map[string]any

	modeLine int
}

// Loop modes.
const (
	LoopSequential = "sequential"
	LoopParallel   = "parallel"
)

// NextShape tells which of the four accepted shapes `next:` was written in.
type NextShape int

const (
	// NextSingle: `next: target`.
	NextSingle NextShape = iota + 1
	// NextList: `next: [a, b]` — every target fires, no conditions.
	NextList
	// NextTargets: `next: [{step: a, when: ...}, ...]` — mode from step.spec.next_mode.
	NextTargets
	// NextRouter: `next: {spec: {mode}, arcs: [...]}`.
	NextRouter
)

func (s NextShape) String() string {
	switch s {
	case NextSingle:
		return "single"
	case NextList:
		return "list"
	case NextTargets:
		return "targets"
	case NextRouter:
		return "router"
	}
	return "unknown"
}

// Next is a step's routing.
type Next struct {
	Shape NextShape
	// Mode is the router's spec.mode as written ("" when absent).
	Mode string
	// Spec is the router's spec block (mode, on_no_match, ...).
	Spec map[string]any
	Arcs []Arc
	Raw  any
}

// Arc is one routing edge.
type Arc struct {
	Step string
	// When is the arc condition; empty means always.
	When string
	// Args is copied unrendered into the target step's context.
	Args map[string]any
	// Set is the arc `set:` applied to the target's context.
	Set  map[string]any
	Spec map[string]any
	Raw  map[string]any
	Line int
}

// Routing modes.
const (
	ModeExclusive = "exclusive"
	ModeInclusive = "inclusive"
)

// RoutingMode is the mode the step's arcs are evaluated in: every target of a plain
// list fires; a router uses its spec.mode, else the step's spec.next_mode; a list of
// targets uses spec.next_mode. Only "inclusive" (any case) is inclusive.
func (s *Step) RoutingMode() string {
	if s.Next == nil {
		return ModeExclusive
	}
	mode := s.Spec.NextMode
	switch s.Next.Shape {
	case NextList:
		return ModeInclusive
	case NextSingle:
		return ModeExclusive
	case NextRouter:
		if s.Next.Mode != "" {
			mode = s.Next.Mode
		}
	}
	if strings.EqualFold(strings.TrimSpace(mode), ModeInclusive) {
		return ModeInclusive
	}
	return ModeExclusive
}

// KeychainDef is one entry of `keychain:`, with every field the wallet reads.
type KeychainDef struct {
	Name string
	// Kind is the entry's `kind:` (e.g. secrets, credential), if any.
	Kind       string
	Credential string
	TokenType  string
	Scope      any
	// Provider: gcp, k8s/kubernetes, vault, aws/aws_sm, azure/azure_kv, gcp_iam, aws_sts, azure_oauth, ...
	Provider string
	Auth     any
	// Map maps output keys to secret-reference templates.
	Map map[string]string
	// Region is the entry's home region ("" when unset).
	Region string
	// Residency is none (default), advisory or strict.
	Residency        string
	AllowedRegions   []string
	NoBrokerFallback bool
	AutoRenew        bool
	Extra            map[string]any
	Raw              map[string]any
	Line             int
}

// Residency policies.
const (
	ResidencyNone     = "none"
	ResidencyAdvisory = "advisory"
	ResidencyStrict   = "strict"
)

// WorkbookEntry is one entry of `workbook:`: a named reusable tool.
type WorkbookEntry struct {
	Name  string
	Tool  ToolSpec
	Sink  any
	Extra map[string]any
	Raw   map[string]any
	Line  int
}

// Tool kinds accepted in `tool.kind`: every kind upstream's playbook language names,
// whether or not the reference worker runs it.
const (
	KindHTTP              = "http"
	KindPostgres          = "postgres"
	KindDuckDB            = "duckdb"
	KindDuckLake          = "ducklake"
	KindPython            = "python"
	KindWorkbook          = "workbook"
	KindPlaybook          = "playbook"
	KindPlaybooks         = "playbooks"
	KindSecrets           = "secrets"
	KindIterator          = "iterator"
	KindContainer         = "container"
	KindScript            = "script"
	KindSnowflake         = "snowflake"
	KindTransfer          = "transfer"
	KindSnowflakeTransfer = "snowflake_transfer"
	KindGCS               = "gcs"
	KindGateway           = "gateway"
	KindNATS              = "nats"
	KindShell             = "shell"
	KindArtifact          = "artifact"
	KindNoop              = "noop"
	KindTaskSequence      = "task_sequence"
	KindRhai              = "rhai"
)

// ToolKinds lists every accepted tool kind.
var ToolKinds = []string{
	KindHTTP, KindPostgres, KindDuckDB, KindDuckLake, KindPython, KindWorkbook, KindPlaybook,
	KindPlaybooks, KindSecrets, KindIterator, KindContainer, KindScript, KindSnowflake,
	KindTransfer, KindSnowflakeTransfer, KindGCS, KindGateway, KindNATS, KindShell,
	KindArtifact, KindNoop, KindTaskSequence, KindRhai,
}

// EvalActions are the valid `do` values of an eval entry, in upstream's order.
var EvalActions = []string{"continue", "retry", "break", "jump", "fail"}

// Step returns the step with the given name, or nil.
func (p *Playbook) Step(name string) *Step { return p.steps[name] }

// Start returns the `start` step.
func (p *Playbook) Start() *Step { return p.steps["start"] }

// WorkloadMap returns the workload block when it is an object, else an empty map.
func (p *Playbook) WorkloadMap() map[string]any {
	if m, ok := p.Workload.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// FindKeychain returns the keychain entry with the given name.
func (p *Playbook) FindKeychain(name string) (*KeychainDef, bool) {
	for i := range p.Keychain {
		if p.Keychain[i].Name == name {
			return &p.Keychain[i], true
		}
	}
	return nil, false
}

// FindWorkbook returns the workbook entry with the given name.
func (p *Playbook) FindWorkbook(name string) (*WorkbookEntry, bool) {
	for i := range p.Workbook {
		if p.Workbook[i].Name == name {
			return &p.Workbook[i], true
		}
	}
	return nil, false
}

// ToolInput is the input a single tool runs with: the step-level `input:` merged
// under the tool's own input, the tool's keys winning (server rule 2, a fix over HEAD,
// which drops the step-level input). A tool input that is not a mapping is returned
// as is. The maps of the playbook are not modified.
func (s *Step) ToolInput() any {
	t := s.Tool.Single
	if t == nil {
		return nil
	}
	if len(s.Input) == 0 {
		return t.Input
	}
	if t.HasInput && t.Input != nil {
		tm, ok := t.Input.(map[string]any)
		if !ok {
			return t.Input
		}
		out := make(map[string]any, len(s.Input)+len(tm))
		for k, v := range s.Input {
			out[k] = v
		}
		for k, v := range tm {
			out[k] = v
		}
		return out
	}
	out := make(map[string]any, len(s.Input))
	for k, v := range s.Input {
		out[k] = v
	}
	return out
}
