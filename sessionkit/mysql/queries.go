package mysql

import (
	"strconv"
	"strings"
)

// queries holds every statement the store runs on its table, in one place, so
// that a new column (such as a per-user index) touches one file.
type queries struct {
	table                     string // quoted
	find, commit, delete, all string
	deleteExpiredBatch        string
	createTable               string
	columns                   string
	indexes                   string
}

func newQueries(t tableName, batch int) queries {
	q := t.quoted
	// CAST(token AS BINARY) = CAST(? AS BINARY) keeps lookups exact on a
	// case-insensitive, space-padding collation, while token = ? still lets
	// the primary key find the row.
	exact := "token = ? AND CAST(token AS BINARY) = CAST(? AS BINARY)"
	qs := queries{
		table:  q,
		find:   "SELECT data FROM " + q + " WHERE " + exact + " AND expiry > UTC_TIMESTAMP(6)",
		delete: "DELETE FROM " + q + " WHERE " + exact,
		all:    "SELECT token, data FROM " + q + " WHERE expiry > UTC_TIMESTAMP(6)",
		// Oldest first along the expiry index, a bounded number of rows per
		// statement, so that no statement holds row locks for long.
		deleteExpiredBatch: "DELETE FROM " + q + " WHERE expiry <= UTC_TIMESTAMP(6) ORDER BY expiry LIMIT " + strconv.Itoa(batch),
		createTable: "CREATE TABLE IF NOT EXISTS " + q + " (\n" +
			"  token  CHAR(43) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,\n" +
			"  data   MEDIUMBLOB  NOT NULL,\n" +
			"  expiry DATETIME(6) NOT NULL,\n" +
			"  INDEX " + quoteIdent(t.indexName()) + " (expiry)\n" +
			")",
		columns: "SELECT LOWER(COLUMN_NAME), LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, COLLATION_NAME " +
			"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ?",
		indexes: "SELECT COUNT(*) FROM information_schema.STATISTICS " +
			"WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ? AND LOWER(COLUMN_NAME) = 'expiry' AND SEQ_IN_INDEX = 1",
	}
	qs.commit = qs.upsert(1)
	return qs
}

// upsert writes rows sessions in one statement.
func (q queries) upsert(rows int) string {
	return "INSERT INTO " + q.table + " (token, data, expiry) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?),", rows), ",") +
		" ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)"
}

// findMany reads rows sessions in one statement. It does not compare tokens
// exactly: the caller keeps only byte-for-byte equal ones.
func (q queries) findMany(rows int) string {
	return "SELECT token, data FROM " + q.table + " WHERE token IN (" +
		strings.TrimSuffix(strings.Repeat("?,", rows), ",") + ") AND expiry > UTC_TIMESTAMP(6)"
}
