package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Upgrading plain tokens. scs's HashTokenInStore gives the store
// base64url(SHA-256(token)) in place of the token, so a manager that starts
// hashing no longer finds the sessions stored under plain tokens. With
// Config.UpgradePlainTokens on, a Find that misses the hash H, in a context
// that carries the plain token T with hash(T) == H (Request.PlainToken), looks
// the session up under T and moves it to H with one conditional UPDATE of
// the primary key; UpgradeTokens moves every remaining row in batches.
//
// A stored 43-character token may be a plain token or a hash: nothing in
// the token tells them apart. Someone who holds a copy of the table could
// present a stored hash as a cookie; were the row under it taken for a
// plain row, it would be moved to hash(hash) and its session handed over.
// Two rules keep that from happening:
//
//   - Every row the store writes with HashedTokens on carries a header with
//     flagHashed, and a row with that flag is never moved. This covers every
//     row this store writes under a hash, with or without encryption or the
//     switch.
//   - Rows without a header may still be stored under a hash by other
//     software: scs with HashTokenInStore over another store, or an earlier
//     version of this store. No check of the table can tell, so the store
//     moves rows only on a table whose comment holds PlainTokensComment,
//     which the operator sets once they know every such row is stored under
//     a plain token. CheckSchema fails without it, with the statement that
//     sets it.

// PlainTokensComment marks a session table as one whose rows without a
// header are stored under plain tokens: written by scs's mysqlstore (or
// another store) with scs's HashTokenInStore off, or by this store with
// HashedTokens off. UpgradePlainTokens moves rows only on a table whose
// comment contains it; CheckSchema's error shows the ALTER TABLE that sets
// it.
const PlainTokensComment = "sessionkit:plain-tokens"

// errNotPlainTokenTable is why UpgradePlainTokens moves nothing on a table
// without PlainTokensComment.
var errNotPlainTokenTable = errors.New("not marked as a table of plain tokens")

// plainTable is what the store knows of its table's PlainTokensComment:
// once seen, it is trusted until the store is closed; once read without
// it, the comment is read again only after capacityRecheck, so that a
// table marked while the service runs is upgraded from then on, and an
// unknown cookie does not cost a query of information_schema each time.
type plainTable struct {
	marked atomic.Bool
	mu     sync.Mutex
	read   time.Time // when the comment was last read without the mark
}

// tableCommentQuery reads the session table's comment.
const tableCommentQuery = "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ?"

// checkPlainTokenTable reads the table's comment and returns an error,
// matching errNotPlainTokenTable, that says what to do when it does not
// hold PlainTokensComment.
func (s *Store) checkPlainTokenTable(ctx context.Context) error {
	var comment string
	err := s.db.QueryRowContext(ctx, tableCommentQuery, s.table.schemaArg(), s.table.name).Scan(&comment)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sessionkit/mysql: %s: %w", s.table.quoted, ErrTableMissing)
	}
	if err != nil {
		return s.wrap("reading the table's comment", err)
	}
	if strings.Contains(comment, PlainTokensComment) {
		s.plainTable.marked.Store(true)
		return nil
	}
	s.plainTable.mu.Lock()
	s.plainTable.read = time.Now()
	s.plainTable.mu.Unlock()
	return fmt.Errorf("sessionkit/mysql: UpgradePlainTokens (SESSION_UPGRADE_PLAIN_TOKENS): table %s is %w. "+
		"The upgrade gives the session stored under a cookie's value to whoever sends that cookie. "+
		"Sessions stored under hashes without a mark (by scs's HashTokenInStore over another store, or by an earlier version of sessionkit with SESSION_HASH_TOKEN=true) "+
		"would go to anyone who sends a stored hash, which a copy of the table shows. "+
		"If, within the sessions' lifetime, the table was written only by scs's mysqlstore with HashTokenInStore off, by sessionkit with SESSION_HASH_TOKEN=false, "+
		"or by this version of sessionkit, mark it (this changes the table's comment only):\n\n\t%s\n\n"+
		"If not, turn UpgradePlainTokens off; sessions stored under plain tokens then start anew.",
		s.table.quoted, errNotPlainTokenTable, s.plainTokensStatement())
}

// plainTokensStatement is the ALTER TABLE that marks the table with
// PlainTokensComment (replacing any comment it has).
func (s *Store) plainTokensStatement() string {
	return "ALTER TABLE " + s.table.quoted + " COMMENT = '" + PlainTokensComment + "';"
}

// plainTokenTable reports whether the table is marked with
// PlainTokensComment, reading its comment unless that was read without the
// mark within capacityRecheck (callers that find it unknown at once each
// read it). It logs why no row is moved when the comment has no mark; its
// error is the server's.
func (s *Store) plainTokenTable(ctx context.Context) (bool, error) {
	if s.plainTable.marked.Load() {
		return true, nil
	}
	s.plainTable.mu.Lock()
	recent := !s.plainTable.read.IsZero() && time.Since(s.plainTable.read) < capacityRecheck
	s.plainTable.mu.Unlock()
	if recent {
		return false, nil
	}
	err := s.checkPlainTokenTable(ctx)
	if errors.Is(err, errNotPlainTokenTable) {
		s.log().Warn("sessionkit/mysql: UpgradePlainTokens is on, but the table is not marked as one of plain tokens, so no session is moved to its hash; CheckSchema says why",
			"table", s.table.quoted, "mark", s.plainTokensStatement())
		return false, nil
	}
	return err == nil, err
}

// upgradeAttempts bounds how often a lazy upgrade reads the plain row again
// after its data changed between the read and the move.
const upgradeAttempts = 3

// DefaultUpgradeBatchSize is how many rows UpgradeTokens reads at a time
// when given a batch size below 1.
const DefaultUpgradeBatchSize = 1000

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
	var plain string
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		plain = r.PlainToken
	}
	if plain == "" || HashToken(plain) != hashed {
		return "", false
	}
	return plain, true
}

// upgradeOnFind runs when a Find of hashed missed: it moves the session
// stored under plain, if there is one and it is not itself marked as stored
// under a hash, to hashed, and returns it; on a table not marked with
// PlainTokensComment it moves nothing. It reads both tokens in one
// statement, so that two requests that race with the same cookie both get
// the one session (the second finds it moved), and an unknown cookie costs
// one statement more than a miss.
func (s *Store) upgradeOnFind(ctx context.Context, plain, hashed string) ([]byte, bool, error) {
	if marked, err := s.plainTokenTable(ctx); !marked {
		return nil, false, err
	}
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
// Config.UpgradePlainTokens and a table marked with PlainTokensComment;
// ctx ends it between two statements (each is bounded by QueryTimeout).
//
// Rows marked as stored under a hash are left alone. Run it once every
// replica runs with UpgradePlainTokens, so that no replica of an earlier
// version writes rows under hashes without the mark meanwhile.
func (s *Store) UpgradeTokens(ctx context.Context, batchSize int, progress ...func(done int64)) (int64, error) {
	if !s.cfg.UpgradePlainTokens {
		return 0, errors.New("sessionkit/mysql: UpgradeTokens: needs UpgradePlainTokens (SESSION_UPGRADE_PLAIN_TOKENS=true), on this store and on every replica first")
	}
	qctx, cancel := s.queryContext(ctx)
	err := s.checkPlainTokenTable(qctx)
	cancel()
	if err != nil {
		return 0, err
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
