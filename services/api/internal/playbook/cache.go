package playbook

import (
	"container/list"
	"sync"
)

// Cache keeps parsed playbooks by their exact source text, so the engine does not
// re-parse a catalog entry on every orchestration pass (YAML scanning is most of the
// cost of Parse). The returned *Playbook is shared between callers and must be treated
// as read-only. Parse errors are cached too. Safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type cached struct {
	src string
	pb  *Playbook
	err error
}

// NewCache returns a cache holding up to size playbooks (size <= 0 means 256).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = 256
	}
	return &Cache{max: size, ll: list.New(), items: map[string]*list.Element{}}
}

// Parse returns the cached result for src, parsing it on a miss.
func (c *Cache) Parse(src []byte) (*Playbook, error) {
	c.mu.Lock()
	// indexing with string(src) directly does not copy src
	if el, ok := c.items[string(src)]; ok {
		c.ll.MoveToFront(el)
		e := el.Value.(*cached)
		c.mu.Unlock()
		return e.pb, e.err
	}
	c.mu.Unlock()
	pb, err := Parse(src)
	key := string(src)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; !ok {
		c.items[key] = c.ll.PushFront(&cached{src: key, pb: pb, err: err})
		for c.ll.Len() > c.max {
			last := c.ll.Back()
			c.ll.Remove(last)
			delete(c.items, last.Value.(*cached).src)
		}
	}
	return pb, err
}

// Len reports how many entries the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
