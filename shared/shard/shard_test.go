package shard

import "encoding/binary"
import "fmt"
import "math"
import "strings"
import "testing"

import "github.com/cespare/xxhash/v2"

import "github.com/noetl/controlplane/shared/config"

// XXH64 known answers (seed 0), as upstream publishes them (docs/decisions.md, "Ids and
// sharding").
func TestXXH64KnownAnswers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{
		"":    0xef46db3751d8e999,
		"a":   0xd24ec4f1a98c6e5b,
		"abc": 0x44bc2cf5ad770999,
	} {
		if got := xxhash.Sum64String(in); got != want {
			t.Errorf("XXH64(%q) = %#x, want %#x", in, got, want)
		}
	}
}

// Pinned vectors from the reference tests, the spec example and the rollout playbook.
func TestForPinnedVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id    int64
		count uint32
		want  uint32
	}{
		{1, 2, 1}, {1, 4, 1}, {1, 16, 5}, {1, 64, 21}, {1, 1024, 405},
		{42, 1, 0}, {9999999999, 1, 0}, {-1, 1, 0}, {42, 0, 0},
		{320816801799737344, 4, 2},
		{325, 8, 4}, {320816801799737344, 16, 14},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_%d", tc.id, tc.count), func(t *testing.T) {
			t.Parallel()
			if got := For(tc.id, tc.count); got != tc.want {
				t.Errorf("For(%d, %d) = %d, want %d", tc.id, tc.count, got, tc.want)
			}
		})
	}
}

// Upstream's additional shard vectors: id, then the shard for each count; -1 in a cell
// means upstream's table leaves it blank.
func TestForAdditionalVectors(t *testing.T) {
	t.Parallel()
	counts := []uint32{2, 3, 4, 8, 16, 64, 1024}
	tests := []struct {
		id   int64
		hash uint64 // 0: not given
		want []int  // per count above
	}{
		{0, 0x34c96acdcadb1bbb, []int{1, 2, 3, 3, 11, 59, 955}},
		{1, 0x9f29cb17a2a49995, []int{1, 1, 1, 5, 5, 21, 405}},
		{42, 0xb556806fb6d14353, []int{1, 0, 3, 3, 3, 19, 851}},
		{-1, 0x85d136adb773c6c9, []int{1, 0, 1, 1, 9, 9, 713}},
		{320816801799737344, 0x7c38cb2fcd528abe, []int{0, 1, 2, 6, 14, 62, 702}},
		{math.MaxInt64, 0xff70cc60366e770c, []int{0, 2, 0, 4, 12, 12, 780}},
		{math.MinInt64, 0x3f425eacf01544e0, []int{0, 0, 0, 0, 0, 32, 224}},
		{9999999999, 0x937fb82df386e737, []int{1, 2, 3, 7, 7, 55, 823}},
		{325, 0, []int{0, -1, 0, 4, 4, -1, 868}},
		{100, 0, []int{0, -1, 2, 2, 10, -1, 122}},
		{1000, 0, []int{1, -1, 1, 1, 9, -1, 585}},
		{123456789, 0, []int{1, -1, 1, 5, 13, -1, 77}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.id), func(t *testing.T) {
			t.Parallel()
			if tc.hash != 0 {
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], uint64(tc.id))
				if got := xxhash.Sum64(b[:]); got != tc.hash {
					t.Errorf("XXH64(LE %d) = %#x, want %#x", tc.id, got, tc.hash)
				}
			}
			for i, n := range counts {
				if tc.want[i] < 0 {
					continue
				}
				if got := For(tc.id, n); got != uint32(tc.want[i]) {
					t.Errorf("For(%d, %d) = %d, want %d", tc.id, n, got, tc.want[i])
				}
			}
		})
	}
}

func TestForStaysInRange(t *testing.T) {
	t.Parallel()
	for _, n := range []uint32{2, 3, 7, 1024, math.MaxUint32} {
		for id := int64(-500); id < 500; id++ {
			if got := For(id*7919, n); got >= n {
				t.Fatalf("For(%d, %d) = %d, out of range", id*7919, n, got)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		wants []string // nil: valid
	}{
		{"default 0/1", Config{Index: 0, Count: 1}, nil},
		{"last index", Config{Index: 15, Count: 16}, nil},
		{"count 0", Config{Index: 0, Count: 0}, []string{"NOETL_SHARD_COUNT must be >= 1; got 0"}},
		{"index = count", Config{Index: 4, Count: 4},
			[]string{"NOETL_SHARD_INDEX 4 >= NOETL_SHARD_COUNT 4", "shard_index must be in 0..shard_count"}},
		{"index > count", Config{Index: 9, Count: 2}, []string{"NOETL_SHARD_INDEX 9 >= NOETL_SHARD_COUNT 2"}},
		{"index with count 1", Config{Index: 1, Count: 1}, []string{"NOETL_SHARD_INDEX 1 >= NOETL_SHARD_COUNT 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.wants == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigOwns(t *testing.T) {
	t.Parallel()
	single := Config{Index: 0, Count: 1}
	for _, id := range []int64{0, 1, -1, 320816801799737344} {
		if !single.Owns(id) {
			t.Errorf("a single shard must own %d", id)
		}
	}
	// (320816801799737344, 4) → 2: only index 2 of 4 owns it.
	for i := uint32(0); i < 4; i++ {
		c := Config{Index: i, Count: 4}
		if got, want := c.Owns(320816801799737344), i == 2; got != want {
			t.Errorf("Config{%d/4}.Owns = %v, want %v", i, got, want)
		}
	}
	// Every id has exactly one owner among the replicas.
	for id := int64(0); id < 2000; id++ {
		owners := 0
		for i := uint32(0); i < 8; i++ {
			if (Config{Index: i, Count: 8}).Owns(id) {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("id %d has %d owners among 8 shards", id, owners)
		}
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env     map[string]string
		want    Config
		wantErr string
	}{
		{map[string]string{}, Config{Index: 0, Count: 1}, ""},
		{map[string]string{"NOETL_SHARD_INDEX": "3", "NOETL_SHARD_COUNT": "8"}, Config{Index: 3, Count: 8}, ""},
		{map[string]string{"NOETL_SHARD_COUNT": "0"}, Config{}, "NOETL_SHARD_COUNT must be >= 1"},
		{map[string]string{"NOETL_SHARD_INDEX": "2", "NOETL_SHARD_COUNT": "2"}, Config{}, "NOETL_SHARD_INDEX 2 >= NOETL_SHARD_COUNT 2"},
		{map[string]string{"NOETL_SHARD_COUNT": "-1"}, Config{}, "NOETL_SHARD_COUNT"},
		{map[string]string{"NOETL_SHARD_INDEX": "x"}, Config{}, "NOETL_SHARD_INDEX"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			t.Parallel()
			var c Config
			err := config.LoadFrom(&c, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadFrom err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || c != tc.want {
				t.Fatalf("LoadFrom = %+v, %v; want %+v", c, err, tc.want)
			}
		})
	}
}
