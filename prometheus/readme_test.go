package sessionkitprom_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// metricName matches a name of the collector's in a text.
var metricName = regexp.MustCompile(`sessionkit_[a-z_]+[a-z]`)

// TestDocsListEveryMetric checks that the README's "Prometheus metrics"
// section and the package docs name every metric the collector makes, and
// none that it does not.
func TestDocsListEveryMetric(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Prometheus metrics\n")
	if !ok {
		t.Fatal(`README.md has no "### Prometheus metrics" section`)
	}
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"README.md": section, "doc.go": string(doc)} {
		named := map[string]bool{}
		for _, name := range metricName.FindAllString(text, -1) {
			named[name] = true
			if _, ok := types[name]; !ok {
				t.Errorf("%s names %s, which the collector does not make", where, name)
			}
		}
		for name := range types {
			if !named[name] {
				t.Errorf("%s does not name %s", where, name)
			}
		}
	}
}
