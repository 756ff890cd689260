package bench

import (
	"database/sql"
	"time"

	"github.com/go-sql-driver/mysql"
)

// PoolSize is the maximum number of open and of idle connections of every
// store's pool: the same for all, and more than the 16 goroutines need, so
// that no store waits for a connection.
const PoolSize = 32

// OpenPool opens a connection pool on cfg as both stores would be given one:
// the session time zone is UTC (as sessionkit sets on its own pool, and as a
// TIMESTAMP expiry column needs for scs's mysqlstore to compare it with
// UTC_TIMESTAMP), and connections live as long as the run.
func OpenPool(cfg *mysql.Config) (*sql.DB, error) {
	cfg = cfg.Clone()
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Timeout = 10 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(PoolSize)
	db.SetMaxIdleConns(PoolSize)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}
