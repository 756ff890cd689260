package main

import (
	"context"
	"errors"
	"fmt"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

var revokeUserCommand = &command{
	name:    "revoke-user",
	args:    "ID",
	summary: "end every session of a user",
	details: `
revoke-user ends every unexpired session bound to the user ID (the ID the
service gave kit.Login): after a password change, or when an account is
taken over. The user's next request, on any replica, has no session.
It needs the user columns in the table; without them it fails and prints
the ALTER TABLE that adds them. An ID that starts with "-" goes after "--":
sessionkit revoke-user -- -42.`,
	db:  true,
	run: runRevokeUser,
}

func runRevokeUser(ctx context.Context, a *app, c *command, _ any, args []string) int {
	switch {
	case len(args) == 0:
		return a.usageError(c, "the user ID is missing")
	case len(args) > 1:
		return a.usageError(c, "want one user ID, got %d arguments", len(args))
	}
	if err := sessionmysql.CheckUserID(args[0]); err != nil {
		return a.usageError(c, "%v", err)
	}
	user := args[0]
	op, code := a.open(ctx, c, nil)
	if op == nil {
		return code
	}
	defer op.close()
	n, err := op.store.RevokeUser(ctx, user, "")
	if errors.Is(err, sessionmysql.ErrNoUsers) {
		fmt.Fprintf(a.stderr, "sessionkit %s: %v\nthen restart the services, which read the table's columns at start-up\n", c.name, err)
		return exitFailed
	}
	if err != nil {
		return a.fail(c, fmt.Errorf("after ending %d sessions of user %q: %w", n, user, err))
	}
	fmt.Fprintf(a.stdout, "ended %s of user %q\n", plural(n, "session"), user)
	return exitOK
}
