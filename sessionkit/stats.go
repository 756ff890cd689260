package sessionkit

import sessionmysql "sessionkit.dev/sessionkit/mysql"

// Stats returns the MySQL store's cleanup counters: passes run, passes
// skipped because another replica held the cleanup lock, rows deleted, and
// the last pass's start, duration and error. With the memory store they are
// all zero.
func (k *Kit) Stats() sessionmysql.Stats {
	if k.store == nil {
		return sessionmysql.Stats{}
	}
	return k.store.Stats()
}
