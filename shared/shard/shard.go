// Package shard maps execution ids to shards exactly as upstream does: XXH64 (seed 0) of
// the 8 little-endian bytes of the i64, modulo the shard count. The hash, seed and byte
// order pin every existing assignment, so none of them may change.
package shard

import "encoding/binary"
import "fmt"

import "github.com/cespare/xxhash/v2"

// MaxCount is the largest shard count the diagnostic endpoint accepts.
const MaxCount = 1024

// For returns the shard of an execution id; 0 when count <= 1, without hashing.
func For(executionID int64, count uint32) uint32 {
	if count <= 1 {
		return 0
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(executionID))
	return uint32(xxhash.Sum64(b[:]) % uint64(count))
}

// Config is this replica's routing identity (NOETL_SHARD_INDEX / NOETL_SHARD_COUNT).
type Config struct {
	Index uint32 `env:"NOETL_SHARD_INDEX" envDefault:"0"`
	Count uint32 `env:"NOETL_SHARD_COUNT" envDefault:"1"`
}

// Validate is the fail-fast rule: count >= 1 and index < count.
func (c Config) Validate() error {
	if c.Count == 0 {
		return fmt.Errorf("NOETL_SHARD_COUNT must be >= 1; got 0")
	}
	if c.Index >= c.Count {
		return fmt.Errorf("NOETL_SHARD_INDEX %d >= NOETL_SHARD_COUNT %d; shard_index must be in 0..shard_count", c.Index, c.Count)
	}
	return nil
}

// Owns reports whether this replica owns the execution.
func (c Config) Owns(executionID int64) bool {
	return c.Count <= 1 || For(executionID, c.Count) == c.Index
}
