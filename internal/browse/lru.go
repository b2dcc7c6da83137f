package browse

import (
	"container/list"
	"sync"
)

// lru is a least recently used cache bounded by the sum of its entries'
// costs. It is safe for concurrent use.
type lru[K comparable, V any] struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // of *lruEntry, most recent first
	byKey map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
}

func newLRU[K comparable, V any](max int64) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), byKey: make(map[K]*list.Element)}
}

// get returns the value of k and marks it recently used.
func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

// add stores v under k at the given cost, evicting the least recently
// used entries until the total fits. A value costing more than the whole
// cache is not kept.
func (c *lru[K, V]) add(k K, v V, cost int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		old := e.Value.(*lruEntry[K, V])
		c.used -= old.cost
		c.order.Remove(e)
		delete(c.byKey, k)
	}
	if cost > c.max {
		return
	}
	for c.used+cost > c.max && c.order.Len() > 0 {
		last := c.order.Back()
		old := last.Value.(*lruEntry[K, V])
		c.used -= old.cost
		c.order.Remove(last)
		delete(c.byKey, old.key)
	}
	c.byKey[k] = c.order.PushFront(&lruEntry[K, V]{key: k, val: v, cost: cost})
	c.used += cost
}

// size returns the total cost held.
func (c *lru[K, V]) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
