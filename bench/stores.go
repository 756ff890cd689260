package bench

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/v2"
	"github.com/go-sql-driver/mysql"

	sessionkit "sessionkit.dev/sessionkit/mysql"
)

// The stores compared, by the names that benchmarks and tables use.
const (
	// SCS is scs's mysqlstore on the table from scs's README.
	SCS = "scs"
	// Sessionkit is sessionkit's store on the same table definition as SCS.
	Sessionkit = "sessionkit"
	// SessionkitRecommended is sessionkit's store on its recommended table.
	SessionkitRecommended = "sessionkit-rec"
	// SessionkitUnbatched is sessionkit's store on the same table as SCS with
	// batching off (MaxInflight: 0): every call its own statement, so that
	// the gain of one round trip per call shows on its own.
	SessionkitUnbatched = "sessionkit-unbatched"
)

// StoreNames lists the stores in the order benchmarks run them; SCS, the
// baseline, comes first.
var StoreNames = []string{SCS, Sessionkit, SessionkitRecommended, SessionkitUnbatched}

// Target is one store ready to be measured: its table made, its sessions
// committed and its connections warm.
type Target struct {
	Name  string
	Store scs.Store
	// DB is the store's own pool, which the caller closes.
	DB *sql.DB
}

// goroutinesToWarm is how many goroutines seed and warm a store: as many as
// the widest benchmark runs, so that it finds its connections open.
const goroutinesToWarm = 16

// NewTarget sets up the named store on cfg, which must name an empty
// database of its own: scs's mysqlstore always uses the table "sessions".
// Background cleanup is off for every store.
func NewTarget(ctx context.Context, name string, cfg *mysql.Config, sessions Sessions) (*Target, error) {
	db, err := OpenPool(cfg)
	if err != nil {
		return nil, err
	}
	t := &Target{Name: name, DB: db}
	if err := t.setUp(ctx, sessions); err != nil {
		db.Close()
		return nil, fmt.Errorf("bench: setting up %s on %s/%s: %w", name, cfg.Addr, cfg.DBName, err)
	}
	return t, nil
}

func (t *Target) setUp(ctx context.Context, sessions Sessions) error {
	switch t.Name {
	case SCS, Sessionkit, SessionkitUnbatched:
		for _, q := range SCSREADMETable {
			if _, err := t.DB.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		switch t.Name {
		case SCS:
			t.Store = mysqlstore.NewWithCleanupInterval(t.DB, 0)
		case Sessionkit:
			t.Store = sessionkit.NewWithCleanupInterval(t.DB, 0)
		default:
			cfg := sessionkit.DefaultConfig()
			cfg.CleanupInterval, cfg.MaxInflight = 0, 0
			s, err := sessionkit.NewWithConfig(t.DB, cfg)
			if err != nil {
				return err
			}
			t.Store = s
		}
	case SessionkitRecommended:
		s := sessionkit.NewWithCleanupInterval(t.DB, 0)
		if err := s.CreateTable(ctx); err != nil {
			return err
		}
		t.Store = s
	default:
		return fmt.Errorf("unknown store %q (want one of %v)", t.Name, StoreNames)
	}
	if err := sessions.Seed(ctx, t.Store, goroutinesToWarm); err != nil {
		return err
	}
	return sessions.Warm(ctx, t.Store, goroutinesToWarm)
}
