package e2e

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/sessionkit"
)

// composeServers are the example services of docker-compose.yml and the
// ports the README promises for them.
var composeServers = []struct {
	service, port string
}{
	{"chi", "4000"},
	{"nethttp", "4001"},
}

// TestComposeAgreesWithREADME checks docker-compose.yml against the README
// and against sessionkit's own configuration parser: the services and ports
// the README names, MySQL 8.4 with a health check and a named volume, and
// example servers whose environment sessionkit accepts and whose DSN
// reaches the mysql service with its credentials.
func TestComposeAgreesWithREADME(t *testing.T) {
	src, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	readmeBytes, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(readmeBytes)
	doc, err := parseYAML(string(src))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	compose := asMap(t, doc, "the file")
	services := asMap(t, compose["services"], "services")
	volumes := asMap(t, compose["volumes"], "volumes")

	db := asMap(t, services["mysql"], "services.mysql")
	image, _ := db["image"].(string)
	version, ok := strings.CutPrefix(image, "mysql:")
	if !ok {
		t.Fatalf("services.mysql.image = %q, want the official mysql image", image)
	}
	if version != "8.4" {
		t.Errorf("services.mysql.image = %q, want mysql:8.4", image)
	}
	if !strings.Contains(readme, "MySQL "+version) {
		t.Errorf("README does not mention MySQL %s, the image docker-compose.yml runs", version)
	}
	if hc := asMap(t, db["healthcheck"], "services.mysql.healthcheck"); hc["test"] == nil {
		t.Error("services.mysql.healthcheck has no test")
	}
	named := false
	for _, v := range asList(t, db["volumes"], "services.mysql.volumes") {
		name, _, _ := strings.Cut(v.(string), ":")
		if _, ok := volumes[name]; ok && strings.Contains(v.(string), ":/var/lib/mysql") {
			named = true
		}
	}
	if !named {
		t.Error("services.mysql keeps /var/lib/mysql in no named volume")
	}
	dbEnv := environment(t, db["environment"], "services.mysql.environment")
	if dbEnv["MYSQL_PASSWORD"] == "" || dbEnv["MYSQL_USER"] == "" || dbEnv["MYSQL_DATABASE"] == "" {
		t.Errorf("services.mysql.environment lacks MYSQL_USER, MYSQL_PASSWORD or MYSQL_DATABASE defaults: %v", dbEnv)
	}

	var readmeLines = strings.Split(readme, "\n")
	for _, want := range composeServers {
		t.Run(want.service, func(t *testing.T) {
			name := "services." + want.service
			svc := asMap(t, services[want.service], name)

			command, _ := svc["command"].(string)
			if !strings.Contains(command, "./examples/"+want.service) {
				t.Errorf("%s.command = %q, want it to run ./examples/%s", name, command, want.service)
			}
			mapping := "127.0.0.1:" + want.port + ":" + want.port // a laptop's setup: not on every interface
			if ports := asList(t, svc["ports"], name+".ports"); !slices.Contains(ports, any(mapping)) {
				t.Errorf("%s.ports = %v, want %q", name, ports, mapping)
			}
			dep := asMap(t, asMap(t, svc["depends_on"], name+".depends_on")["mysql"], name+".depends_on.mysql")
			if dep["condition"] != "service_healthy" {
				t.Errorf("%s.depends_on.mysql.condition = %v, want service_healthy", name, dep["condition"])
			}

			env := environment(t, svc["environment"], name+".environment")
			if env["ADDR"] != ":"+want.port {
				t.Errorf("%s: ADDR = %q, want %q", name, env["ADDR"], ":"+want.port)
			}
			sessionEnv := map[string]string{}
			for k, v := range env {
				if strings.HasPrefix(k, "SESSION_") {
					sessionEnv[k] = v
					if !strings.Contains(readme, k) {
						t.Errorf("%s sets %s, which the README does not document", name, k)
					}
				}
			}
			cfg, err := sessionkit.LoadConfigFrom(sessionEnv)
			if err != nil {
				t.Fatalf("%s: sessionkit refuses the environment: %v", name, err)
			}
			if !cfg.CreateTable || cfg.CookieSecure {
				t.Errorf("%s: SESSION_CREATE_TABLE=%v SESSION_COOKIE_SECURE=%v, want true and false for a browser on http://localhost",
					name, cfg.CreateTable, cfg.CookieSecure)
			}
			dsn, err := mysql.ParseDSN(string(cfg.MySQLDSN))
			if err != nil {
				t.Fatalf("%s: SESSION_MYSQL_DSN: %v", name, err)
			}
			if dsn.Addr != "mysql:3306" || dsn.User != dbEnv["MYSQL_USER"] || dsn.Passwd != dbEnv["MYSQL_PASSWORD"] || dsn.DBName != dbEnv["MYSQL_DATABASE"] {
				t.Errorf("%s: SESSION_MYSQL_DSN %q does not reach the mysql service's database %s as %s",
					name, cfg.MySQLDSN, dbEnv["MYSQL_DATABASE"], dbEnv["MYSQL_USER"])
			}

			// The README points a browser at the right server.
			url := "http://localhost:" + want.port
			found := false
			for _, line := range readmeLines {
				if strings.Contains(line, url) && strings.Contains(line, "examples/"+want.service) {
					found = true
				}
			}
			if !found {
				t.Errorf("README has no line naming both %s and examples/%s", url, want.service)
			}
		})
	}
}

// TestComposeRecoversOnItsOwn checks what makes the stack start, stop and
// recover without help: restart policies, a health check that logs in as
// the application and runs a query, servers that say they are building and
// stop at once on docker stop, and a source mount that SELinux hosts allow.
func TestComposeRecoversOnItsOwn(t *testing.T) {
	src, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(string(src))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	services := asMap(t, asMap(t, doc, "the file")["services"], "services")
	for name, v := range services {
		svc := asMap(t, v, "services."+name)
		switch svc["restart"] {
		case "always", "unless-stopped", "on-failure":
		default:
			t.Errorf("services.%s.restart = %v: a service that exits stays down", name, svc["restart"])
		}
	}

	hc := asMap(t, asMap(t, services["mysql"], "services.mysql")["healthcheck"], "services.mysql.healthcheck")
	test, _ := hc["test"].(string)
	for _, want := range []string{`--user="$$MYSQL_USER"`, `--password="$$MYSQL_PASSWORD"`, `--database="$$MYSQL_DATABASE"`, "SELECT", "--host=127.0.0.1"} {
		if !strings.Contains(test, want) {
			t.Errorf("services.mysql.healthcheck.test = %q: want the application's account over TCP running a query (%s)", test, want)
		}
	}
	if strings.Contains(test, "mysqladmin") {
		t.Errorf("services.mysql.healthcheck.test = %q: mysqladmin ping passes on Access denied", test)
	}

	for _, want := range composeServers {
		name := "services." + want.service
		svc := asMap(t, services[want.service], name)
		if svc["init"] != "true" {
			t.Errorf("%s.init = %v, want true: sh as PID 1 ignores docker stop's SIGTERM during the build", name, svc["init"])
		}
		command, _ := svc["command"].(string)
		if echo, build := strings.Index(command, "echo "), strings.Index(command, "go build"); echo < 0 || echo > build {
			t.Errorf("%s.command = %q: want a line that says it builds, before go build", name, command)
		}
		if !strings.Contains(command, "exec /tmp/server") {
			t.Errorf("%s.command = %q: want the server exec'd, to get the signals", name, command)
		}
		mounted := false
		for _, v := range asList(t, svc["volumes"], name+".volumes") {
			parts := strings.Split(v.(string), ":")
			if len(parts) >= 2 && parts[1] == "/src" {
				mounted = true
				if len(parts) < 3 || !slices.ContainsFunc(strings.Split(parts[2], ","), func(o string) bool { return o == "z" || o == "Z" }) {
					t.Errorf("%s: the source mount %q lacks z, which SELinux hosts need", name, v)
				}
			}
		}
		if !mounted {
			t.Errorf("%s mounts no source at /src", name)
		}
	}
	for _, want := range []string{"first start downloads the Go modules", `"msg":"listening"`} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README does not say %q: the first start builds in silence", want)
		}
	}
}

// TestComposeConfigValid runs docker-compose config -q where docker-compose
// is installed (CI installs it); elsewhere the test above is the check.
func TestComposeConfigValid(t *testing.T) {
	var cmd *exec.Cmd
	if _, err := exec.LookPath("docker-compose"); err == nil {
		cmd = exec.Command("docker-compose", "-f", "docker-compose.yml", "config", "-q")
	} else if exec.Command("docker", "compose", "version").Run() == nil {
		cmd = exec.Command("docker", "compose", "-f", "docker-compose.yml", "config", "-q")
	} else {
		t.Skip("neither docker-compose nor docker compose is installed")
	}
	cmd.Dir = "../.."
	cmd.Env = inheritedEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
}

// environment reads a service's environment, as a mapping or a list of
// KEY=value, and expands ${VAR:-default} as docker compose would with none
// of the variables set.
func environment(t *testing.T, v any, name string) map[string]string {
	t.Helper()
	env := map[string]string{}
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			s, _ := val.(string)
			env[k] = s
		}
	case []any:
		for _, kv := range v {
			k, val, _ := strings.Cut(kv.(string), "=")
			env[k] = val
		}
	default:
		t.Fatalf("%s: want a mapping or a list, have %T", name, v)
	}
	for k, val := range env {
		env[k] = os.Expand(val, func(ref string) string {
			if ref == "$" {
				return "$"
			}
			_, def, _ := strings.Cut(ref, ":-")
			return def
		})
	}
	return env
}

func asMap(t *testing.T, v any, name string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("docker-compose.yml: %s: want a mapping, have %T", name, v)
	}
	return m
}

func asList(t *testing.T, v any, name string) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("docker-compose.yml: %s: want a list, have %T", name, v)
	}
	return l
}
