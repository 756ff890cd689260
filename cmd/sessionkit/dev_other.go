//go:build !unix

package main

import (
	"context"
	"errors"
)

// runDev says that dev needs a Unix-like system: it runs the database
// server under a shell, in a process group of its own.
func runDev(_ context.Context, a *app, c *command, _ any, _ []string) int {
	return a.fail(c, errors.New("dev runs on Linux and macOS (on Windows, in WSL); with Docker, docker compose up runs the examples"))
}
