package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func userKey(name string) []byte        { return keys.New(keys.User).Str(name).Bytes() }
func tokenKey(id model.ID) []byte       { return keys.New(keys.Token).ID(id).Bytes() }
func tokenHashKey(hash string) []byte   { return keys.New(keys.TokenByHash).Str(hash).Bytes() }
func auditKey(id model.ID) []byte       { return keys.New(keys.Audit).ID(id).Bytes() }
func creditNanos(c float64) int64       { return costNanos(c) }
func creditsOf(nanos int64) float64     { return float64(nanos) / 1e9 }
func auditTarget(kind, n string) string { return kind + ":" + n }

// CreateUser stores a new user; ErrExists when the name is taken.
func (s *Store) CreateUser(ctx context.Context, u *model.User) error {
	if err := u.Validate(); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now().UTC()
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		switch _, err := txn.Get(userKey(u.Name)); {
		case err == nil:
			return ErrExists
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return setJSON(txn, userKey(u.Name), u)
	})
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Name, err)
	}
	return nil
}

// GetUser returns a user, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (*model.User, error) {
	if err := existingName("user", name); err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	var u model.User
	err := s.view(ctx, func(txn *badger.Txn) error { return notFound(getJSON(txn, userKey(name), &u)) })
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return &u, nil
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]*model.User, error) {
	out, err := listJSON[model.User](ctx, s, []byte{keys.User}, false, 0)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CreditOp is how SetCredits changes a user's credits.
type CreditOp byte

const (
	CreditAdd CreditOp = '+'
	CreditSub CreditOp = '-'
	CreditSet CreditOp = '='
)

// SetCredits adds, takes or sets a user's credits (US dollars) and returns
// the user as stored. Credits never go below 0: taking more than is left
// leaves 0.
func (s *Store) SetCredits(ctx context.Context, name string, op CreditOp, usd float64) (*model.User, error) {
	if err := existingName("user", name); err != nil {
		return nil, fmt.Errorf("credits of user %q: %w", name, err)
	}
	if usd < 0 || !(usd <= 1e12) {
		return nil, fmt.Errorf("credits of user %q: %v is not an amount (0 to 1e12 US dollars)", name, usd)
	}
	var u model.User
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := notFound(getJSON(txn, userKey(name), &u)); err != nil {
			return err
		}
		have, n := creditNanos(u.Credits), creditNanos(usd)
		switch op {
		case CreditAdd:
			have += n
		case CreditSub:
			have = max(have-n, 0)
		case CreditSet:
			have = n
		default:
			return fmt.Errorf("unknown credit operation %q", op)
		}
		u.Credits = creditsOf(have)
		return setJSON(txn, userKey(name), &u)
	})
	if err != nil {
		return nil, fmt.Errorf("credits of user %q: %w", name, err)
	}
	return &u, nil
}

// debitCredits takes cost from user's credits in txn: the transaction that
// writes the execution whose cost it is, so a run's record and its charge
// commit together or not at all. A debit larger than what is left sets the
// credits to 0 and leaves an audit record of what could not be taken. A
// user that no longer exists is charged nothing (recorded too).
func debitCredits(txn *badger.Txn, user string, cost int64, exec model.ID, now time.Time) error {
	var u model.User
	switch err := getJSON(txn, userKey(user), &u); {
	case errors.Is(err, badger.ErrKeyNotFound):
		return putAudit(txn, &model.AuditRecord{Time: now, Actor: user, Action: "debit",
			Target: auditTarget("execution", exec.String()), Outcome: model.OutcomeClamped,
			Detail: fmt.Sprintf("user %q does not exist; $%.9g not charged", user, creditsOf(cost))})
	case err != nil:
		return fmt.Errorf("user %q: %w", user, err)
	}
	left := creditNanos(u.Credits) - cost
	if left < 0 {
		if err := putAudit(txn, &model.AuditRecord{Time: now, Actor: user, Action: "debit",
			Target: auditTarget("execution", exec.String()), Outcome: model.OutcomeClamped,
			Detail: fmt.Sprintf("cost $%.9g, credits $%.9g: $%.9g not charged", creditsOf(cost), u.Credits, creditsOf(-left))}); err != nil {
			return err
		}
		left = 0
	}
	u.Credits = creditsOf(left)
	return setJSON(txn, userKey(user), &u)
}

// CreateToken stores a new token (its hash, never its value) and its
// lookup by hash; the user must exist.
func (s *Store) CreateToken(ctx context.Context, t *model.Token) error {
	if len(t.Hash) != 64 {
		return fmt.Errorf("create token: hash of %d characters is not a hex SHA-256", len(t.Hash))
	}
	if t.ID.IsZero() {
		t.ID = model.NewID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now().UTC()
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := notFound(getJSON(txn, userKey(t.User), &model.User{})); err != nil {
			return fmt.Errorf("user %q: %w", t.User, err)
		}
		if _, err := txn.Get(tokenHashKey(t.Hash)); err == nil {
			return ErrExists
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := setJSON(txn, tokenKey(t.ID), t); err != nil {
			return err
		}
		return txn.Set(tokenHashKey(t.Hash), t.ID[:])
	})
	if err != nil {
		return fmt.Errorf("create token for user %q: %w", t.User, err)
	}
	return nil
}

// TokenByHash returns the token whose value hashes to hash, or ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*model.Token, error) {
	var t model.Token
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(tokenHashKey(hash))
		if err != nil {
			return notFound(err)
		}
		var id model.ID
		if err := value(item, func(b []byte) error {
			if len(b) != len(id) {
				return fmt.Errorf("token index entry holds %d bytes, want %d", len(b), len(id))
			}
			copy(id[:], b)
			return nil
		}); err != nil {
			return err
		}
		if err := getJSON(txn, tokenKey(id), &t); err != nil {
			return fmt.Errorf("token %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("token lookup: %w", err)
	}
	return &t, nil
}

// GetToken returns a token by ID, or ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id model.ID) (*model.Token, error) {
	var t model.Token
	err := s.view(ctx, func(txn *badger.Txn) error { return notFound(getJSON(txn, tokenKey(id), &t)) })
	if err != nil {
		return nil, fmt.Errorf("token %s: %w", id, err)
	}
	return &t, nil
}

// Tokens returns a user's tokens (every user's when user is ""), oldest
// first.
func (s *Store) Tokens(ctx context.Context, user string) ([]*model.Token, error) {
	all, err := listJSON[model.Token](ctx, s, []byte{keys.Token}, false, 0)
	if err != nil {
		return nil, fmt.Errorf("tokens of %q: %w", user, err)
	}
	out := all[:0]
	for _, t := range all {
		if user == "" || t.User == user {
			out = append(out, t)
		}
	}
	return out, nil
}

// RevokeToken marks a token revoked (kept, so the audit trail and the
// user's list still name it); revoking a revoked token changes nothing.
func (s *Store) RevokeToken(ctx context.Context, id model.ID) (*model.Token, error) {
	var t model.Token
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := notFound(getJSON(txn, tokenKey(id), &t)); err != nil {
			return err
		}
		if t.Revoked() {
			return nil
		}
		t.RevokedAt = s.now().UTC()
		return setJSON(txn, tokenKey(id), &t)
	})
	if err != nil {
		return nil, fmt.Errorf("revoke token %s: %w", id, err)
	}
	return &t, nil
}

// AppendAudit adds a record to the audit trail (an ID and time are given
// when it has none).
func (s *Store) AppendAudit(ctx context.Context, r *model.AuditRecord) error {
	if r.Time.IsZero() {
		r.Time = s.now().UTC()
	}
	if err := s.update(ctx, func(txn *badger.Txn) error { return putAudit(txn, r) }); err != nil {
		return fmt.Errorf("audit %s of %s: %w", r.Action, r.Target, err)
	}
	return nil
}

func putAudit(txn *badger.Txn, r *model.AuditRecord) error {
	if r.ID.IsZero() {
		r.ID = model.NewID()
	}
	return setJSON(txn, auditKey(r.ID), r)
}

// Audit returns the newest limit records of the audit trail (all when
// limit <= 0), newest first.
func (s *Store) Audit(ctx context.Context, limit int) ([]*model.AuditRecord, error) {
	out, err := listJSON[model.AuditRecord](ctx, s, []byte{keys.Audit}, true, limit)
	if err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	return out, nil
}

// listJSON decodes the records under prefix, in key order or reversed, at
// most limit of them (limit <= 0: all).
func listJSON[T any](ctx context.Context, s *Store, prefix []byte, reverse bool, limit int) ([]*T, error) {
	var out []*T
	err := s.view(ctx, func(txn *badger.Txn) error {
		o := withValues(prefix, limit)
		o.Reverse = reverse
		it := txn.NewIterator(o)
		defer it.Close()
		start := prefix
		if reverse {
			start = keys.SeekLast(prefix)
		}
		for it.Seek(start); it.Valid() && (limit <= 0 || len(out) < limit); it.Next() {
			v := new(T)
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, v) }); err != nil {
				return fmt.Errorf("%s: %w", describeKey(it.Item().KeyCopy(nil)), err)
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}
