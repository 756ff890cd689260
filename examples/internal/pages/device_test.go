package pages

import "testing"

// TestDeviceNamesBrowserAndSystem names the devices of common user agents
// by browser and system, and says so when it knows neither.
func TestDeviceNamesBrowserAndSystem(t *testing.T) {
	for _, tc := range []struct{ agent, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:131.0) Gecko/20100101 Firefox/131.0", "Firefox on macOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0", "Edge on Windows"},
		{"curl/8.14.1", "curl"},
		{"laptop/1.0", "Unknown device"},
		{"", "Unknown device"},
	} {
		if got := device(tc.agent); got != tc.want {
			t.Errorf("device(%q) = %q, want %q", tc.agent, got, tc.want)
		}
	}
}
