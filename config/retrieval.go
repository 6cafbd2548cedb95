package config

import (
	"fmt"
	"time"
)

// Retrieval configures the workers' embedding cache (docs/protocol.md,
// "Worker environment"): how many embeddings it keeps and for how long.
type Retrieval struct {
	CacheEntries int    `yaml:"cache_entries,omitempty"`
	CacheTTL     string `yaml:"cache_ttl,omitempty"` // a duration: 24h, 90m
}

// Embedding cache defaults and bounds.
const (
	DefaultCacheEntries = 10000
	DefaultCacheTTL     = 24 * time.Hour
	MaxCacheEntries     = 10_000_000
	MaxCacheTTL         = 365 * 24 * time.Hour
)

// EmbedCache is the configured embedding cache: its entry limit and TTL,
// defaults filled in.
func (c *Config) EmbedCache() (entries int, ttl time.Duration) {
	entries, ttl = c.Retrieval.CacheEntries, DefaultCacheTTL
	if entries == 0 {
		entries = DefaultCacheEntries
	}
	if c.Retrieval.CacheTTL != "" {
		ttl, _ = time.ParseDuration(c.Retrieval.CacheTTL) // checked by Load
	}
	return entries, ttl
}

// checkRetrieval validates the retrieval section read from path.
func (c *Config) checkRetrieval(path string) error {
	r := c.Retrieval
	if r.CacheEntries < 0 || r.CacheEntries > MaxCacheEntries {
		return fmt.Errorf("%s: retrieval: cache_entries: %d is out of range (1 to %d)", path, r.CacheEntries, MaxCacheEntries)
	}
	if r.CacheTTL != "" {
		d, err := time.ParseDuration(r.CacheTTL)
		if err != nil || d < time.Second || d > MaxCacheTTL {
			return fmt.Errorf("%s: retrieval: cache_ttl: %q is not a duration from 1s to 8760h, such as 24h or 90m", path, r.CacheTTL)
		}
	}
	return nil
}
