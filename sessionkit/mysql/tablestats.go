package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// TableStats describes what the session table holds, as TableStats reads it.
type TableStats struct {
	// At is the server's UTC time that splits Live from Expired.
	At time.Time
	// Rows is every row of the table: Live sessions and Expired ones that
	// cleanup has not deleted yet.
	Rows, Live, Expired int64
	// OldestExpiry and NewestExpiry are the earliest and latest expiry in
	// the table, expired rows included; zero when the table is empty.
	OldestExpiry, NewestExpiry time.Time
	// DataBytes is the distribution of the data column's length in bytes
	// over the rows, or over a sample of them (see TableStats).
	DataBytes Distribution
	// DiskBytes is the server's estimate of the space the table and its
	// indexes take (information_schema.TABLES), which may lag behind.
	DiskBytes int64
	// HasUsers reports whether the table has the user columns; Users is
	// zero without them.
	HasUsers bool
	// Users describes the sessions bound to a user.
	Users UserStats
}

// UserStats describes the sessions bound to users.
type UserStats struct {
	// Users is how many users have sessions, Sessions how many rows are
	// bound to a user, expired ones not yet deleted included.
	Users, Sessions int64
	// PerUser is the distribution of the number of sessions per user.
	PerUser Distribution
}

// Distribution summarises a set of whole numbers.
type Distribution struct {
	// Count is how many values it is computed from. Sampled is true when
	// they are a sample of the rows, not all of them: Min, the percentiles
	// and Max are then those of the sample, and Total an estimate for every
	// row (the sample's mean times the rows).
	Count   int64
	Sampled bool
	// Min, Median, P90, P99 and Max are the nearest-rank percentiles (0,
	// 50, 90, 99 and 100); zero when Count is zero.
	Min, Median, P90, P99, Max int64
	// Total is the sum of the values.
	Total int64
}

// Sampling of the data column's length: the lengths of up to
// sizeSampleRuns runs of sizeSampleRun rows each, from random points of the
// primary key, once the table holds more than exactSizesUpTo rows.
const (
	exactSizesUpTo = 100_000
	sizeSampleRuns = 20
	sizeSampleRun  = 500
)

// TableStats reads how many rows the session table holds, live and expired,
// the range of their expiry, the distribution of the size of their data
// and, on a table with the user columns, of the number of sessions per
// user. It is for operators (the sessionkit command's stats); the
// application never needs it.
//
// What it costs, on a table of N rows with the recommended indexes; every
// statement is a consistent read that takes no row locks:
//   - the live and expired counts read the expiry index once, in two range
//     scans, and no table row (a million rows took 1.3 seconds on a busy
//     two-core test server, so count on tens of seconds at ten million).
//     Without an index on expiry, they read the whole table twice;
//   - the oldest and newest expiry are the two ends of the expiry index;
//   - the data sizes read every row up to 100,000 rows; above that, a
//     sample of 20 runs of 500 rows from random points of the primary key
//     (tokens are random, so the runs are a fair sample): 10,000 rows
//     whatever N. The smallest and largest sizes and the percentiles are
//     then those of the sample, and the total an estimate;
//   - the sessions per user read the user_id index once, without the
//     table's rows, so they count expired sessions not yet deleted too; the
//     server sends one number per user.
//
// The whole of it took 2.6 seconds on that server for a million rows with
// users. It is not bounded by the store's QueryTimeout, since counting a
// large table can take longer: bound it with ctx.
func (s *Store) TableStats(ctx context.Context) (TableStats, error) {
	return s.tableStats(ctx, exactSizesUpTo)
}

func (s *Store) tableStats(ctx context.Context, exactUpTo int64) (TableStats, error) {
	var st TableStats
	wrap := func(what string, err error) (TableStats, error) {
		return TableStats{}, s.wrap("table stats: "+what, err)
	}
	var now string
	if err := s.db.QueryRowContext(ctx, "SELECT "+timeText("UTC_TIMESTAMP(6)")).Scan(&now); err != nil {
		return wrap("reading the server's time", err)
	}
	st.At = parseExpiry(&now)
	t := s.table.quoted
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t+" WHERE expiry > ?", now).Scan(&st.Live); err != nil {
		return wrap("counting live sessions", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t+" WHERE expiry <= ?", now).Scan(&st.Expired); err != nil {
		return wrap("counting expired sessions", err)
	}
	st.Rows = st.Live + st.Expired
	var oldest, newest *string
	if err := s.db.QueryRowContext(ctx, "SELECT "+timeText("MIN(expiry)")+", "+timeText("MAX(expiry)")+" FROM "+t).Scan(&oldest, &newest); err != nil {
		return wrap("reading the range of expiry", err)
	}
	st.OldestExpiry, st.NewestExpiry = parseExpiry(oldest), parseExpiry(newest)

	var disk sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ?", s.table.schemaArg(), s.table.name).Scan(&disk)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return wrap("reading the table's size", err)
	}
	st.DiskBytes = disk.Int64

	if st.DataBytes, err = s.dataSizes(ctx, st.Rows, exactUpTo); err != nil {
		return wrap("reading the data sizes", err)
	}

	if st.HasUsers, err = s.hasUsers(ctx); err != nil {
		return wrap("reading the table's columns", err)
	}
	if st.HasUsers {
		if st.Users, err = s.userStats(ctx); err != nil {
			return wrap("counting sessions per user", err)
		}
	}
	return st, nil
}

// dataSizes reads the length of every row's data, or of a sample of rows
// when the table holds more than exactUpTo.
func (s *Store) dataSizes(ctx context.Context, rows, exactUpTo int64) (Distribution, error) {
	counts := map[int64]int64{}
	read := func(query string, args ...any) error {
		r, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			var n int64
			if err := r.Scan(&n); err != nil {
				return err
			}
			counts[n]++
		}
		return r.Err()
	}
	if rows <= exactUpTo {
		if err := read("SELECT LENGTH(data) FROM " + s.table.quoted); err != nil {
			return Distribution{}, err
		}
		return distribution(counts), nil
	}
	query := fmt.Sprintf("SELECT LENGTH(data) FROM %s WHERE token >= ? ORDER BY token LIMIT %d", s.table.quoted, sizeSampleRun)
	for range sizeSampleRuns {
		if err := read(query, randomToken()); err != nil {
			return Distribution{}, err
		}
	}
	d := distribution(counts)
	if d.Count > 0 {
		d.Sampled = true
		d.Total = int64(math.Round(float64(d.Total) / float64(d.Count) * float64(rows)))
	}
	return d, nil
}

// randomToken is a random 43-character base64url string: a random point
// among the tokens, which are such strings (or SHA-256 hashes in base64url).
func randomToken() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b [43]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b[:])
}

// userStats counts the sessions of each user along the user_id index.
func (s *Store) userStats(ctx context.Context) (UserStats, error) {
	r, err := s.db.QueryContext(ctx, "SELECT COUNT(*) FROM "+s.table.quoted+" WHERE user_id IS NOT NULL GROUP BY user_id")
	if err != nil {
		return UserStats{}, err
	}
	defer r.Close()
	perUser := map[int64]int64{} // sessions -> users with that many
	for r.Next() {
		var n int64
		if err := r.Scan(&n); err != nil {
			return UserStats{}, err
		}
		perUser[n]++
	}
	if err := r.Err(); err != nil {
		return UserStats{}, err
	}
	d := distribution(perUser)
	return UserStats{Users: d.Count, Sessions: d.Total, PerUser: d}, nil
}

// distribution summarises values given as value -> how many times it
// occurs.
func distribution(counts map[int64]int64) Distribution {
	var d Distribution
	values := make([]int64, 0, len(counts))
	for v, n := range counts {
		values = append(values, v)
		d.Count += n
		d.Total += v * n
	}
	if d.Count == 0 {
		return d
	}
	slices.Sort(values)
	// rank returns the value at the nearest rank of percentile p.
	rank := func(p float64) int64 {
		want := max(1, int64(math.Ceil(p/100*float64(d.Count))))
		var seen int64
		for _, v := range values {
			seen += counts[v]
			if seen >= want {
				return v
			}
		}
		return values[len(values)-1]
	}
	d.Min, d.Max = values[0], values[len(values)-1]
	d.Median, d.P90, d.P99 = rank(50), rank(90), rank(99)
	return d
}
