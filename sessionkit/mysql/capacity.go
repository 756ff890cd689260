package mysql

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// capacityRecheck is how long a read of the data column's capacity is
// trusted, so that a column widened or narrowed while the application runs
// is seen within that time even before the server refuses a row.
const capacityRecheck = time.Minute

// capacity is what the store knows of the data column's size. It is read
// from information_schema on first use and again after capacityRecheck; no
// lock is held while reading, so a read that hangs on a dead server holds up
// no other commit (commits racing on a stale value each read it).
type capacity struct {
	bytes atomic.Int64 // what the data column holds; 0 until read
	mu    sync.Mutex   // guards read; never held during a query
	read  time.Time    // when bytes was read
}

func (c *capacity) fresh() (int64, bool) {
	n := c.bytes.Load()
	if n == 0 {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return n, time.Since(c.read) < capacityRecheck
}

func (c *capacity) set(n int64) {
	c.mu.Lock()
	c.bytes.Store(n)
	c.read = time.Now()
	c.mu.Unlock()
}

// checkSize returns an error matching ErrTooLarge when n bytes do not fit in
// the data column. n is the size of the stored form: the session's data and
// the store's overhead (a header, and with encryption the key ID, nonce and
// tag; see overhead), so that data which fits only without them is refused
// before anything is written.
func (s *Store) checkSize(ctx context.Context, n int) error {
	c, ok := s.capacity.fresh()
	if !ok {
		read, err := s.readCapacity(ctx)
		if err != nil {
			return err
		}
		c = read
	}
	if int64(n) > c {
		return s.tooLarge(n, c)
	}
	return nil
}

// refusedAsTooLarge turns the server's refusal of n bytes (ER_DATA_TOO_LONG:
// the column was narrowed since it was last read) into an error matching
// ErrTooLarge, reading the capacity again so that the next commit is
// checked against the column as it is now.
func (s *Store) refusedAsTooLarge(ctx context.Context, n int, serverErr error) error {
	c, err := s.readCapacity(ctx)
	if err != nil || int64(n) <= c {
		return fmt.Errorf("%w: %d bytes refused by the server: %w", ErrTooLarge, n, serverErr)
	}
	return s.tooLarge(n, c)
}

func (s *Store) tooLarge(n int, c int64) error {
	if o := s.overhead(); o > 0 {
		return fmt.Errorf("%w: %d bytes (%d of session data and %d of header and encryption), but %s.data holds at most %d bytes",
			ErrTooLarge, n, n-o, o, s.table.quoted, c)
	}
	return fmt.Errorf("%w: %d bytes, but %s.data holds at most %d bytes", ErrTooLarge, n, s.table.quoted, c)
}

// readCapacity reads the data column's size and remembers it.
func (s *Store) readCapacity(ctx context.Context) (int64, error) {
	cols, err := s.columns(ctx)
	if err != nil {
		return 0, s.wrap("reading the data column's size", err)
	}
	if len(cols) == 0 {
		return 0, fmt.Errorf("sessionkit/mysql: commit on %s: %w", s.table.quoted, ErrTableMissing)
	}
	if !s.users.known.Load() {
		// Once: the statements prepared from here on are for this schema
		// (a table altered later is seen after a restart).
		has := true
		for _, c := range userColumns {
			_, ok := cols[c]
			has = has && ok
		}
		s.users.has.Store(has)
		s.users.known.Store(true)
	}
	data, ok := cols["data"]
	if !ok || !data.octetLen.Valid || data.octetLen.Int64 <= 0 {
		return 0, fmt.Errorf("sessionkit/mysql: commit on %s: no data column of known size (run CheckSchema)", s.table.quoted)
	}
	s.capacity.set(data.octetLen.Int64)
	return data.octetLen.Int64, nil
}
