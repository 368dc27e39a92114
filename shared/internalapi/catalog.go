package internalapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
)

// CatalogExists asks the api whether a catalog entry exists (GET /internal/catalog/{id}).
// The wallet checks it before it stores a keychain entry for the catalog id: the catalog
// is the api's table.
func (a *API) CatalogExists(ctx context.Context, catalogID int64) (bool, error) {
	var out struct {
		CatalogID string `json:"catalog_id"`
	}
	status, err := a.get(ctx, "/internal/catalog/"+strconv.FormatInt(catalogID, 10), &out)
	if status == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up catalog entry %d: %w", catalogID, err)
	}
	return true, nil
}
