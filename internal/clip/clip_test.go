package clip

import (
	"strings"
	"testing"
)

func TestPrefixEndsBetweenCharacters(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"abc", 0, ""},
		{"abc", -1, ""},
		{"aé", 2, "a"},          // é is 2 bytes: not split
		{"aé", 3, "aé"},         // fits
		{"a€b", 3, "a"},         // € is 3 bytes
		{"a€b", 4, "a€"},        // ends right after it
		{"\xff\xfe", 1, "\xff"}, // a byte that is not UTF-8 is a character of its own
		{"é", 1, ""},
	} {
		if got := Prefix(tc.s, tc.n); got != tc.want {
			t.Errorf("Prefix(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestForLogKeepsShortValuesAndSaysHowLongALongOneWas(t *testing.T) {
	if got := ForLog("/cart"); got != "/cart" {
		t.Errorf("ForLog(/cart) = %q", got)
	}
	exact := strings.Repeat("x", MaxLogged)
	if got := ForLog(exact); got != exact {
		t.Errorf("ForLog of %d bytes was changed", MaxLogged)
	}
	long := "/" + strings.Repeat("é", 1000) // 2001 bytes; byte 200 is inside an é
	got := ForLog(long)
	want := "/" + strings.Repeat("é", 99) + "... (2001 bytes)"
	if got != want {
		t.Errorf("ForLog of a long path = %q, want %q", got, want)
	}
}
