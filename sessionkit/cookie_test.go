package sessionkit_test

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCookieAttributesMatchConfig reads the Set-Cookie header on the wire
// and checks every attribute the configuration controls.
func TestCookieAttributesMatchConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		cookie   string
		want     []string // attributes that must be there, as written
		wantNot  []string // attributes that must not
		sameSite http.SameSite
		maxAge   time.Duration // 0: no Max-Age and no Expires
	}{
		{
			name:     "defaults",
			env:      nil,
			cookie:   "__Host-session",
			want:     []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"},
			wantNot:  []string{"Domain=", "Partitioned"},
			sameSite: http.SameSiteLaxMode,
			maxAge:   24 * time.Hour,
		},
		{
			name: "every field changed",
			env: map[string]string{
				"SESSION_COOKIE_NAME": "sid", "SESSION_COOKIE_DOMAIN": "example.com", "SESSION_COOKIE_PATH": "/app",
				"SESSION_COOKIE_SECURE": "false", "SESSION_COOKIE_HTTP_ONLY": "false", "SESSION_COOKIE_SAME_SITE": "STRICT",
				"SESSION_COOKIE_PERSIST": "false", "SESSION_LIFETIME": "2h",
			},
			cookie:   "sid",
			want:     []string{"Path=/app", "Domain=example.com", "SameSite=Strict"},
			wantNot:  []string{"HttpOnly", "Secure", "Partitioned", "Max-Age", "Expires"},
			sameSite: http.SameSiteStrictMode,
		},
		{
			name: "cross-site and partitioned",
			env: map[string]string{
				"SESSION_COOKIE_SAME_SITE": "none", "SESSION_COOKIE_PARTITIONED": "1", "SESSION_LIFETIME": "90m",
			},
			cookie:   "__Host-session",
			want:     []string{"SameSite=None", "Secure", "Partitioned"},
			sameSite: http.SameSiteNoneMode,
			maxAge:   90 * time.Minute,
		},
		{
			name:     "default SameSite sends none",
			env:      map[string]string{"SESSION_COOKIE_SAME_SITE": "default", "SESSION_IDLE_TIMEOUT": "10m"},
			cookie:   "__Host-session",
			wantNot:  []string{"SameSite"},
			sameSite: 0,                // as parsed from a header without SameSite
			maxAge:   10 * time.Minute, // the idle timeout comes first
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kit, _ := startKit(t, mysqlEnv(t, tt.env))
			srv := httptest.NewServer(handlerFor(t, kit, "servemux", sessionRoutes(kit)))
			defer srv.Close()
			client := srv.Client()
			defer client.CloseIdleConnections()

			before := time.Now()
			resp, err := client.Get(srv.URL + "/put")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			raw := resp.Header.Values("Set-Cookie")
			if len(raw) != 1 {
				t.Fatalf("Set-Cookie headers %q, want one", raw)
			}
			for _, a := range tt.want {
				if !strings.Contains(raw[0], "; "+a) {
					t.Errorf("Set-Cookie %q lacks %q", raw[0], a)
				}
			}
			for _, a := range tt.wantNot {
				if strings.Contains(raw[0], "; "+a) {
					t.Errorf("Set-Cookie %q has %q", raw[0], a)
				}
			}
			c, err := http.ParseSetCookie(raw[0])
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != tt.cookie || len(c.Value) != 43 {
				t.Errorf("cookie %s=%q, want %s and a 43-character token", c.Name, c.Value, tt.cookie)
			}
			if c.SameSite != tt.sameSite {
				t.Errorf("SameSite %v, want %v", c.SameSite, tt.sameSite)
			}
			if tt.maxAge == 0 {
				if c.MaxAge != 0 || !c.Expires.IsZero() {
					t.Errorf("Max-Age %d, Expires %v on a cookie that must not persist", c.MaxAge, c.Expires)
				}
				return
			}
			if want := int(tt.maxAge.Seconds()); math.Abs(float64(c.MaxAge-want)) > 2 {
				t.Errorf("Max-Age %d, want about %d", c.MaxAge, want)
			}
			if want := before.Add(tt.maxAge); c.Expires.Sub(want).Abs() > 3*time.Second {
				t.Errorf("Expires %v, want about %v", c.Expires, want)
			}
		})
	}
}
