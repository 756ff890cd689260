package pages

import (
	"testing"
	"time"
)

// TestAgoSaysJustNowUnderAMinute: the sessions page's time columns say
// "just now" for less than a minute, the same words the page uses for this
// device's "last seen", then minutes, hours, and a date after two days.
func TestAgoSaysJustNowUnderAMinute(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{now, "just now"},
		{now.Add(-59 * time.Second), "just now"},
		{now.Add(-61 * time.Second), "1 minute ago"},
		{now.Add(-5*time.Minute - time.Second), "5 minutes ago"},
		{now.Add(-time.Hour - time.Second), "1 hour ago"},
		{now.Add(-47 * time.Hour), "47 hours ago"},
		{time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC), "1 Mar 2024 09:30 UTC"},
		{time.Time{}, "unknown"},
	} {
		if got := ago(tc.t); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
	if justNow != ago(now) {
		t.Errorf("this device is seen %q, a session of a moment ago %q: want one wording", justNow, ago(now))
	}
}
