package main

import (
	"strings"
	"testing"
)

var commandNames = []string{"check", "create-table", "cleanup", "stats", "upgrade-tokens", "revoke-user", "config", "dev"}

func TestHelpListsEveryCommandAndTheExitStatuses(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"--help", "-h", "help"} {
		r := runCommand(t, nil, flag)
		r.want(t, 0, append([]string{"Usage: sessionkit COMMAND", "Exit status:", "2  usage or configuration error"}, commandNames...), nil)
		if r.stderr != "" {
			t.Errorf("%s: stderr %q, want nothing", flag, r.stderr)
		}
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			r := runCommand(t, nil, args...)
			r.want(t, 0, []string{"Usage: sessionkit " + name, "Exit status:"}, nil)
		}
	}
	// Help needs no configuration, not even a DSN.
	r := runCommand(t, map[string]string{"SESSION_LIFETIME": "banana"}, "cleanup", "-h")
	r.want(t, 0, []string{"Usage: sessionkit cleanup"}, nil)
}

func TestUsageErrorsExitWithStatus2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"check", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"stats", "extra"}, `unexpected argument "extra"`},
		{[]string{"revoke-user"}, "the user ID is missing"},
		{[]string{"revoke-user", "a", "b"}, "want one user ID, got 2 arguments"},
		{[]string{"revoke-user", strings.Repeat("u", 256)}, "want 1 to 255 bytes"},
		{[]string{"upgrade-tokens", "-batch", "0"}, "-batch 0: must be at least 1"},
		{[]string{"dev", "-example", "rails"}, `-example "rails": want chi or nethttp`},
		{[]string{"dev", "-addr", "4000"}, `-addr "4000": want host:port`},
		{[]string{"dev", "-addr", "localhost:0"}, `-addr "localhost:0": want host:port`},
		{[]string{"dev", "chi"}, `unexpected argument "chi"`},
	} {
		r := runCommand(t, nil, tc.args...)
		r.want(t, 2, nil, []string{tc.stderr, "Usage: sessionkit"})
		if r.stdout != "" {
			t.Errorf("sessionkit %q: stdout %q, want nothing", tc.args, r.stdout)
		}
	}
}

func TestBadVariableIsAConfigurationError(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames {
		args := []string{name}
		if name == "revoke-user" {
			args = append(args, "alice")
		}
		r := runCommand(t, map[string]string{
			"SESSION_MYSQL_DSN": "app:hunter2secret@tcp(127.0.0.1:1)/app",
			"SESSION_LIFETIME":  "banana",
		}, args...)
		r.want(t, 2, nil, []string{`SESSION_LIFETIME "banana"`})
		if strings.Contains(r.stdout+r.stderr, "hunter2secret") {
			t.Errorf("%s: the output shows the DSN's password\n%v", name, r)
		}
	}
	r := runCommand(t, nil, "check")
	r.want(t, 2, nil, []string{"SESSION_MYSQL_DSN", "required"})
	r = runCommand(t, map[string]string{"SESSION_STORE": "memory"}, "stats")
	r.want(t, 2, nil, []string{"SESSION_STORE", "needs SESSION_STORE=mysql"})
}
