package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"sessionkit.dev/sessionkit"
)

var configCommand = &command{
	name:    "config",
	summary: "print the effective configuration, secrets redacted",
	details: `
config prints every SESSION_* variable sessionkit reads, with its effective
value and whether it came from the environment or is the default. The
password of SESSION_MYSQL_DSN is shown as xxxxx, and the value of every
variable whose name holds KEY, PASSWORD or SECRET as (redacted). It also
names the SESSION_* variables that are set but that sessionkit does not
read (a misspelt name, or one of the service's own), without their values.

A bad variable is reported as the services report it, naming the variable,
with exit status 2.`,
	run: runConfig,
}

// redacted stands for the value of a secret setting.
const redacted = "(redacted)"

// secretVar reports whether a variable's value is never shown: keys,
// passwords and secrets.
func secretVar(name string) bool {
	name = strings.ToUpper(name)
	return strings.Contains(name, "KEY") || strings.Contains(name, "PASSWORD") || strings.Contains(name, "SECRET")
}

func runConfig(_ context.Context, a *app, c *command, _ any, _ []string) int {
	cfg, ok := a.config(c)
	if !ok {
		return exitUsage
	}
	printConfig(a.stdout, cfg, a.environ)
	return exitOK
}

// printConfig writes one line per variable: NAME=value and its source.
func printConfig(w io.Writer, cfg sessionkit.Config, environ map[string]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	v := reflect.ValueOf(cfg)
	known := map[string]bool{}
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("env"), ",")
		if name == "" || name == "-" {
			continue
		}
		known[name] = true
		source := "default"
		if environ[name] != "" {
			source = "environment"
		}
		fmt.Fprintf(tw, "%s=%s\t# %s\n", name, displaySetting(name, v.Field(i)), source)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nthe session cookie is named %s\n", cfg.SessionCookieName())
	var unknown []string
	for name := range environ {
		if strings.HasPrefix(name, "SESSION_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		fmt.Fprintf(w, "set but not read by sessionkit: %s\n", strings.Join(unknown, ", "))
	}
}

// displaySetting is a setting's value as config shows it: the DSN with its
// password masked, secrets redacted, and everything else as its variable
// would spell it.
func displaySetting(name string, f reflect.Value) string {
	switch {
	case name == "SESSION_MYSQL_DSN":
		if f.String() == "" {
			return ""
		}
		return sessionkit.DSN(f.String()).String() // the password masked
	case secretVar(name):
		if f.IsZero() {
			return ""
		}
		return redacted
	}
	switch v := f.Interface().(type) {
	case time.Duration:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case http.SameSite:
		switch v {
		case http.SameSiteLaxMode:
			return "lax"
		case http.SameSiteStrictMode:
			return "strict"
		case http.SameSiteNoneMode:
			return "none"
		case http.SameSiteDefaultMode:
			return "default"
		}
		return strconv.Itoa(int(v))
	case []netip.Prefix:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = p.String()
		}
		return strings.Join(parts, ",")
	}
	if f.Kind() == reflect.String {
		return f.String()
	}
	return fmt.Sprint(f.Interface())
}
