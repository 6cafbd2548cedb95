package cmd

import (
	"fmt"
	"os"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
)

// lmSpec resolves a profile into what the worker needs. The key itself never
// leaves the environment: only the variable's name is sent, after checking
// that it is set so a missing key fails here with its name.
func lmSpec(cfg *config.Config, name string) (bridge.LMSpec, error) {
	p, err := cfg.Profile(name)
	if err != nil {
		return bridge.LMSpec{}, err
	}
	if p.APIKeyEnv != "" && os.Getenv(p.APIKeyEnv) == "" {
		return bridge.LMSpec{}, fmt.Errorf("LM profile %q needs an API key in the environment variable %s, which is not set (export %s=...)", name, p.APIKeyEnv, p.APIKeyEnv)
	}
	spec := bridge.LMSpec{
		Model:       p.Model,
		APIBase:     p.APIBase,
		APIKeyEnv:   p.APIKeyEnv,
		Temperature: p.Temperature,
		MaxTokens:   p.MaxTokens,
		Cache:       p.Cache == nil || *p.Cache,
		Adapter:     p.Adapter,
		PriceIn:     p.PriceIn,
		PriceOut:    p.PriceOut,
		Kwargs:      p.Kwargs,
	}
	return spec, nil
}
