package app

import (
	"errors"
	"fmt"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/seal"
)

// NewRing builds the vault's key ring: the current key seals, previous keys only open.
func NewRing(cfg config.Keys) (*seal.Ring, error) {
	cur, err := seal.ParseKey(cfg.EncryptionKey.Reveal())
	if err != nil {
		return nil, errors.New("config: AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY: not a valid key")
	}
	var prev []seal.Key
	for _, p := range cfg.PreviousKeys {
		k, err := seal.ParseKey(p.Reveal())
		if err != nil {
			return nil, errors.New("config: AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS: not a valid key")
		}
		prev = append(prev, k)
	}
	ring, err := seal.NewRing(cur, prev...)
	if err != nil {
		return nil, fmt.Errorf("config: vault keys: %w", err)
	}
	if cfg.RejectLegacy {
		ring = ring.RejectLegacy()
	}
	return ring, nil
}
