package mysql

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// What the store knows of the server's place in a cluster.
const (
	clusterUnknown int32 = iota // not asked yet, or the server did not answer
	clusterNone                 // a single server, or one the store cannot tell apart
	clusterGalera               // a Galera node: MariaDB Galera Cluster or Percona XtraDB Cluster
	clusterGroup                // a member of a MySQL Group Replication group in multi-primary mode
)

// checkCluster asks the server once whether it is a Galera node, before the
// first session read is prepared: on a multi-primary cluster, a read on one
// node must wait for writes committed through the others.
func (s *Store) checkCluster(ctx context.Context) error {
	if s.cluster.Load() != clusterUnknown {
		return nil
	}
	var on sql.NullBool
	err := s.db.QueryRowContext(ctx, "SELECT @@wsrep_on").Scan(&on)
	switch {
	case serverError(err) == erUnknownVariable:
		// MySQL, or MariaDB built without Galera: is it in a group?
		var single sql.NullBool
		var group sql.NullString
		err = s.db.QueryRowContext(ctx, "SELECT @@group_replication_single_primary_mode, @@group_replication_group_name").Scan(&single, &group)
		switch {
		case serverError(err) == erUnknownVariable:
			s.cluster.Store(clusterNone) // no group replication plugin
		case err != nil:
			return err
		case group.String != "" && single.Valid && !single.Bool:
			s.cluster.Store(clusterGroup)
		default:
			s.cluster.Store(clusterNone) // single-primary: writes and reads go to the primary
		}
	case err != nil:
		return err
	case on.Valid && on.Bool:
		s.cluster.Store(clusterGalera)
	default:
		s.cluster.Store(clusterNone)
	}
	return nil
}

// clusterWarnings says what the pool must set for session reads to see the
// cluster's last write, where the store cannot make them causal itself, and
// whether the lease table for cluster-wide cleanup is missing.
func (s *Store) clusterWarnings(ctx context.Context) ([]string, error) {
	if err := s.checkCluster(ctx); err != nil {
		return nil, err
	}
	var warnings []string
	switch s.cluster.Load() {
	case clusterGalera:
		var wait int64
		var version string
		if err := s.db.QueryRowContext(ctx, "SELECT @@session.wsrep_sync_wait, VERSION()").Scan(&wait, &version); err != nil {
			return nil, err
		}
		perStatement := strings.Contains(version, "MariaDB") && !s.cfg.PoolSetsSyncWait
		if !perStatement && wait&1 == 0 {
			warnings = append(warnings, "the server is a Galera node and the pool's wsrep_sync_wait is "+strconv.FormatInt(wait, 10)+
				": a session read on one node may miss a write made through another; add wsrep_sync_wait=1 to the DSN")
		}
	case clusterGroup:
		var consistency string
		if err := s.db.QueryRowContext(ctx, "SELECT @@session.group_replication_consistency").Scan(&consistency); err != nil {
			return nil, err
		}
		if c := strings.ToUpper(consistency); c != "BEFORE" && c != "BEFORE_AND_AFTER" {
			warnings = append(warnings, "the server is a member of a multi-primary Group Replication group and the pool's group_replication_consistency is "+
				consistency+": a session read on one member may miss a write made through another; add group_replication_consistency=%27BEFORE%27 to the DSN")
		}
	default:
		return nil, nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, s.q.leaseTableExists, s.table.schemaArg()).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		warnings = append(warnings, "the server is a cluster node and "+s.table.leaseTable()+", which keeps cleanup passes apart across nodes, does not exist; the first cleanup pass creates it if the user may, or run:\n"+s.lq.create+";")
	}
	return warnings, nil
}

// onCluster reports whether the server is a node of a multi-primary
// cluster, where GET_LOCK alone does not keep cleanup passes apart.
func (s *Store) onCluster(ctx context.Context) bool {
	if s.checkCluster(ctx) != nil {
		return false
	}
	c := s.cluster.Load()
	return c == clusterGalera || c == clusterGroup
}

// causalReads reports whether session reads must carry wsrep_sync_wait.
func (s *Store) causalReads() bool {
	return s.cluster.Load() == clusterGalera && !s.cfg.PoolSetsSyncWait
}
