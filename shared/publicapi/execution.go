package publicapi

// ExecutionHead is what an execution's entry in GET /api/executions and its detail
// (GET /api/executions/{id}) open with, in this order. ID is the Go type of the two ids
// and Time that of the two timestamps: the api encodes int64 (JSON numbers) and its
// wire time; a client decodes into its own types (text keeps ids beyond 2^53 exact).
type ExecutionHead[ID, Time any] struct {
	ExecutionID ID      `json:"execution_id"`
	CatalogID   ID      `json:"catalog_id"`
	Path        *string `json:"path"`
	Status      string  `json:"status"`
	StartedAt   Time    `json:"started_at"`
	CompletedAt *Time   `json:"completed_at"`
}
