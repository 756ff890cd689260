package e2e

import (
	"fmt"
	"strconv"
	"strings"
)

// parseYAML reads the block-style subset of YAML that docker-compose.yml
// uses: nested mappings, "- " sequences and plain or quoted scalars, with
// comments. Anything else (flow collections, block scalars, anchors) is an
// error rather than a silent misreading; docker-compose config -q in CI
// checks the full syntax. This keeps the module free of a YAML dependency.
func parseYAML(src string) (any, error) {
	var lines []yamlLine
	for n, text := range strings.Split(src, "\n") {
		text = stripComment(strings.TrimRight(text, " \t\r"))
		content := strings.TrimLeft(text, " ")
		if content == "" || content == "---" {
			continue
		}
		if strings.HasPrefix(content, "\t") {
			return nil, fmt.Errorf("line %d: tab indentation", n+1)
		}
		lines = append(lines, yamlLine{n + 1, len(text) - len(content), content})
	}
	if len(lines) == 0 {
		return nil, nil
	}
	p := &yamlParser{lines: lines}
	v, err := p.block(lines[0].indent)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.lines) {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].n)
	}
	return v, nil
}

type yamlLine struct {
	n       int    // line number, for errors
	indent  int    // leading spaces
	content string // the rest, comment removed
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

// block parses the mapping or sequence whose entries start at indent.
func (p *yamlParser) block(indent int) (any, error) {
	if strings.HasPrefix(p.lines[p.i].content, "- ") || p.lines[p.i].content == "-" {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) sequence(indent int) ([]any, error) {
	var items []any
	for p.i < len(p.lines) && p.lines[p.i].indent == indent {
		l := p.lines[p.i]
		if !strings.HasPrefix(l.content, "-") {
			break
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.content, "-"), " ")
		if rest == "" {
			p.i++
			v, err := p.nested(indent, l.n)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			continue
		}
		if _, _, isKey := splitKey(rest); isKey {
			// "- key: value" starts a mapping indented past the dash.
			p.lines[p.i] = yamlLine{l.n, len(l.content) - len(rest) + indent, rest}
			v, err := p.mapping(p.lines[p.i].indent)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			continue
		}
		v, err := scalar(rest, l.n)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.i++
	}
	return items, nil
}

func (p *yamlParser) mapping(indent int) (map[string]any, error) {
	m := map[string]any{}
	for p.i < len(p.lines) && p.lines[p.i].indent == indent {
		l := p.lines[p.i]
		if strings.HasPrefix(l.content, "- ") {
			break
		}
		key, rest, ok := splitKey(l.content)
		if !ok {
			return nil, fmt.Errorf("line %d: want key: value, have %q", l.n, l.content)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q", l.n, key)
		}
		p.i++
		if rest != "" {
			v, err := scalar(rest, l.n)
			if err != nil {
				return nil, err
			}
			m[key] = v
			continue
		}
		// A sequence may sit at the key's own indentation.
		if p.i < len(p.lines) && p.lines[p.i].indent == indent && strings.HasPrefix(p.lines[p.i].content, "- ") {
			v, err := p.sequence(indent)
			if err != nil {
				return nil, err
			}
			m[key] = v
			continue
		}
		v, err := p.nested(indent, l.n)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	return m, nil
}

// nested parses the block indented past parent, or returns nil (YAML's null)
// when there is none.
func (p *yamlParser) nested(parent, n int) (any, error) {
	if p.i >= len(p.lines) || p.lines[p.i].indent <= parent {
		return nil, nil
	}
	return p.block(p.lines[p.i].indent)
}

// splitKey splits "key: value" or "key:"; the key may be quoted.
func splitKey(s string) (key, rest string, ok bool) {
	if s[0] == '"' || s[0] == '\'' {
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 {
			return "", "", false
		}
		key, s = s[1:end+1], s[end+2:]
		if s != ":" && !strings.HasPrefix(s, ": ") {
			return "", "", false
		}
		return key, strings.TrimSpace(s[1:]), true
	}
	i := strings.Index(s, ": ")
	if i < 0 {
		if !strings.HasSuffix(s, ":") {
			return "", "", false
		}
		i = len(s) - 1
	}
	key = s[:i]
	if strings.ContainsAny(key, "\"'") {
		return "", "", false
	}
	return key, strings.TrimSpace(s[i+1:]), true
}

func scalar(s string, n int) (string, error) {
	switch s[0] {
	case '"':
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("line %d: %s: %w", n, s, err)
		}
		return v, nil
	case '\'':
		if len(s) < 2 || s[len(s)-1] != '\'' {
			return "", fmt.Errorf("line %d: unterminated string %s", n, s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case '[', '{', '|', '>', '&', '*', '!':
		return "", fmt.Errorf("line %d: %q: YAML syntax this parser does not read", n, s)
	}
	return s, nil
}

// stripComment removes a comment: "#" at the start of the content or after
// a space, outside quotes.
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || line[i-1] == ' ' || line[i-1] == '-' || line[i-1] == ':' {
				quote = c
			}
		case c == '#' && (i == 0 || line[i-1] == ' '):
			return strings.TrimRight(line[:i], " ")
		}
	}
	return line
}
