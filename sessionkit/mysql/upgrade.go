package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// Upgrading plain tokens. scs's HashTokenInStore gives the store
// base64url(SHA-256(token)) in place of the token, so a manager that starts
// hashing no longer finds the sessions stored under plain tokens. With
// Config.UpgradePlainTokens on, a Find that misses the hash H, in a context
// that carries the plain token T with hash(T) == H (WithPlainToken), looks
// the session up under T and moves it to H with one conditional UPDATE of
// the primary key; UpgradeTokens moves every remaining row in batches.
//
// A stored 43-character token may be a plain token or a hash: the store
// cannot tell them apart by their shape. So that someone holding a copy of
// the table cannot present a stored hash as a cookie and have the row of
// its owner moved to hash(hash) and handed over, every row written while
// the switch is on carries a header flag saying its token is a hash, and a
// row with that flag is never moved.

// upgradeAttempts bounds how often a lazy upgrade reads the plain row again
// after its data changed between the read and the move.
const upgradeAttempts = 3

// DefaultUpgradeBatchSize is how many rows UpgradeTokens reads at a time
// when given a batch size below 1.
const DefaultUpgradeBatchSize = 1000

type plainTokenKey struct{}

// WithPlainToken returns a context that carries a request's session token
// as the client sent it (the cookie's value), so that a Find of its hash
// that misses can upgrade a session stored under the plain token (see
// Config.UpgradePlainTokens). sessionkit's Kit.Middleware adds it when
// SESSION_UPGRADE_PLAIN_TOKENS is on. Without UpgradePlainTokens the store
// ignores it.
func WithPlainToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, plainTokenKey{}, token)
}

// HashToken returns what scs's HashTokenInStore stores for token:
// base64url, without padding, of its SHA-256 (43 characters).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// plainTokenFor returns the plain token ctx carries for the hashed token,
// when the store upgrades plain tokens and the two match.
func (s *Store) plainTokenFor(ctx context.Context, hashed string) (string, bool) {
	if !s.cfg.UpgradePlainTokens {
		return "", false
	}
	plain, _ := ctx.Value(plainTokenKey{}).(string)
	if plain == "" || HashToken(plain) != hashed {
		return "", false
	}
	return plain, true
}

// upgradeOnFind runs when a Find of hashed missed: it moves the session
// stored under plain, if there is one and it is not itself marked as stored
// under a hash, to hashed, and returns it. It reads both tokens in one
// statement, so that two requests that race with the same cookie both get
// the one session (the second finds it moved), and an unknown cookie costs
// one statement more than a miss.
func (s *Store) upgradeOnFind(ctx context.Context, plain, hashed string) ([]byte, bool, error) {
	for range upgradeAttempts {
		rows, err := s.readBoth(ctx, plain, hashed)
		if err != nil {
			return nil, false, err
		}
		if r, ok := rows[hashed]; ok { // moved meanwhile
			return s.upgraded(ctx, hashed, r, false)
		}
		r, ok := rows[plain]
		if !ok {
			return nil, false, nil
		}
		if flagsOf(r.stored)&flagHashed != 0 {
			// Stored under a hash: the cookie is a stored hash, not a
			// session token.
			return nil, false, nil
		}
		data, err := s.open(plain, r.stored)
		if err != nil {
			s.unreadable(plain, err)
			return nil, false, nil
		}
		moved, err := s.move(ctx, plain, hashed, r.stored, data)
		switch {
		case err == nil && moved:
			s.tokensUpgraded.Add(1)
			return s.upgraded(ctx, hashed, storedRow{stored: r.stored, expiry: r.expiry, data: data}, true)
		case err == nil, serverError(err) == erDupEntry:
			// Changed, or moved by another request, meanwhile: look again.
		case serverError(err) == erDataTooLong:
			s.log().Warn("sessionkit/mysql: a session under a plain token does not fit the data column with its header; not upgraded",
				"table", s.table.quoted, "session", SessionID(plain), "err", err)
			return nil, false, nil
		default:
			return nil, false, s.wrap("upgrading a plain token", err)
		}
	}
	return nil, false, nil
}

// upgraded returns the session r found or moved under hashed, and
// remembers it for touch coalescing. r.data is set when opened is true.
func (s *Store) upgraded(ctx context.Context, hashed string, r storedRow, opened bool) ([]byte, bool, error) {
	data := r.data
	if !opened {
		var err error
		if data, err = s.open(hashed, r.stored); err != nil {
			s.unreadable(hashed, err)
			return nil, false, nil
		}
	}
	if s.cfg.TouchInterval > 0 {
		if e, err := time.Parse(expiryLayout, r.expiry); err == nil {
			s.remember(ctx, hashed, data, e)
		}
	}
	return data, true, nil
}

// readBoth reads the unexpired rows stored under exactly plain and hashed.
func (s *Store) readBoth(ctx context.Context, plain, hashed string) (map[string]storedRow, error) {
	stmt, err := s.prepare(ctx, &s.plainFind)
	if err != nil {
		return nil, s.wrap("upgrading a plain token", err)
	}
	rows, err := stmt.QueryContext(ctx, plain, hashed)
	if err != nil {
		return nil, s.wrap("upgrading a plain token", err)
	}
	defer rows.Close()
	found := make(map[string]storedRow, 2)
	for rows.Next() {
		var r storedRow
		if err := rows.Scan(&r.token, &r.stored, &r.expiry); err != nil {
			return nil, s.wrap("upgrading a plain token", err)
		}
		if r.token == plain || r.token == hashed { // exact, whatever the collation
			found[r.token] = r
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("upgrading a plain token", err)
	}
	return found, nil
}

// move moves the row under plain, if its data is still stored, to hashed,
// with data marked as stored under a hash (and sealed for hashed with
// encryption on). It reports whether it moved the row; a row with the
// hashed token already there is an error matching erDupEntry.
func (s *Store) move(ctx context.Context, plain, hashed string, stored, data []byte) (bool, error) {
	sealed, err := s.sealFlags(hashed, data, flagHashed)
	if err != nil {
		return false, err
	}
	stmt, err := s.prepare(ctx, &s.moveToken)
	if err != nil {
		return false, err
	}
	var res sql.Result
	err = s.retry(ctx, func() error {
		res, err = stmt.ExecContext(ctx, hashed, sealed, plain, plain, stored)
		return err
	})
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// UpgradeTokens moves every unexpired session stored under a plain token to
// the hash of its token, as a Find with UpgradePlainTokens would on first
// use, and returns how many it moved. It walks the table in primary-key
// order, batchSize rows at a time (DefaultUpgradeBatchSize below 1), and
// moves each row with a statement of its own that changes it only if it is
// still as read, so it is safe while the service runs: a row changed or
// moved meanwhile, or whose hash is already stored, is skipped and counted
// in the log line that ends the run. progress, if given, is called after
// each batch with the number of rows moved so far. It needs
// Config.UpgradePlainTokens; ctx ends it between two statements (each is
// bounded by QueryTimeout).
//
// The caveat: rows written by an earlier version, or by scs's mysqlstore,
// with hashing on carry no mark that their token is a hash, and would be
// moved to hash(hash), which no cookie finds. So run it, and turn
// UpgradePlainTokens on, only on a table whose unmarked rows are stored
// under plain tokens (written by scs's mysqlstore, or with
// SESSION_HASH_TOKEN=false), and only once every replica runs with
// UpgradePlainTokens on, so that every row written since is marked.
func (s *Store) UpgradeTokens(ctx context.Context, batchSize int, progress ...func(done int64)) (int64, error) {
	if !s.cfg.UpgradePlainTokens {
		return 0, errors.New("sessionkit/mysql: UpgradeTokens: needs UpgradePlainTokens (SESSION_UPGRADE_PLAIN_TOKENS=true), on this store and on every replica first")
	}
	if batchSize < 1 {
		batchSize = DefaultUpgradeBatchSize
	}
	var upgraded, hashExists, changed, unreadable, refused int64
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return upgraded, s.wrap("upgrading tokens", err)
		}
		page, err := s.plainPage(ctx, after, batchSize)
		if err != nil {
			return upgraded, s.wrap("upgrading tokens", err)
		}
		for _, r := range page {
			if flagsOf(r.stored)&flagHashed != 0 {
				continue // stored under a hash
			}
			data, err := s.open(r.token, r.stored)
			if err != nil {
				s.unreadable(r.token, err)
				unreadable++
				continue
			}
			qctx, cancel := s.queryContext(ctx)
			moved, err := s.move(qctx, r.token, HashToken(r.token), r.stored, data)
			cancel()
			switch {
			case err == nil && moved:
				upgraded++
				s.tokensUpgraded.Add(1)
			case err == nil:
				changed++
			case serverError(err) == erDupEntry:
				hashExists++
			case serverError(err) == erDataTooLong || isLockError(err):
				refused++
				s.log().Warn("sessionkit/mysql: UpgradeTokens: a session was not upgraded",
					"table", s.table.quoted, "session", SessionID(r.token), "err", err)
			default:
				return upgraded, s.wrap("upgrading tokens", err)
			}
		}
		report(progress, upgraded)
		if len(page) < batchSize {
			break
		}
		after = page[len(page)-1].token
	}
	s.log().Info("sessionkit/mysql: UpgradeTokens done", "table", s.table.quoted, "upgraded", upgraded,
		"hash_already_stored", hashExists, "changed_meanwhile", changed, "unreadable", unreadable, "refused", refused)
	return upgraded, nil
}

// storedRow is a row as the upgrade reads it.
type storedRow struct {
	token  string
	stored []byte
	expiry string // readBoth only
	data   []byte // once opened
}

// plainPage reads up to n unexpired rows after the token after, in
// primary-key order. Tokens are random, so two that a case-insensitive
// collation holds equal, which keyset paging would skip, do not occur.
func (s *Store) plainPage(ctx context.Context, after string, n int) ([]storedRow, error) {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, s.q.plainPage(), after, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var page []storedRow
	for rows.Next() {
		var r storedRow
		if err := rows.Scan(&r.token, &r.stored); err != nil {
			return nil, err
		}
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading a page of sessions: %w", err)
	}
	return page, nil
}
