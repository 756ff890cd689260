package bench

// SCSREADMETable creates the session table exactly as scs's mysqlstore README
// gives it. scs's mysqlstore can only use a table named "sessions".
var SCSREADMETable = []string{
	`CREATE TABLE sessions (
  token CHAR(43) PRIMARY KEY,
  data BLOB NOT NULL,
  expiry TIMESTAMP(6) NOT NULL
)`,
	`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`,
}
