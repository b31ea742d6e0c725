package config

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Edits of polyarch.yaml that keep the file as its authors wrote it: they
// splice text at the positions yaml.v3 reports for nodes instead of
// re-encoding the document, so comments, quoting, flow or block style and
// blank lines outside the lines an edit adds or removes stay byte for byte.

// AddVersion returns src, a polyarch.yaml, with a copy of
// images[img].versions[from] appended to that list: the entry's lines as
// written, with the scalars at the paths of set (relative to the entry:
// "version", "dockerfile", "args.BAZEL_VERSION", "upstream.files[0].ref",
// "tags[1]") replaced by new values in the same quoting style. Every path
// must name a scalar the entry has.
func AddVersion(src []byte, img, from int, set map[string]string) ([]byte, error) {
	seq, err := versionsNode(src, img)
	if err != nil {
		return nil, err
	}
	if from < 0 || from >= len(seq.Content) {
		return nil, fmt.Errorf("images[%d] has no versions[%d]", img, from)
	}
	lines := splitLines(src)
	first, last, err := itemLines(lines, seq.Content[from])
	if err != nil {
		return nil, fmt.Errorf("images[%d].versions[%d]: %w", img, from, err)
	}
	_, end, err := itemLines(lines, seq.Content[len(seq.Content)-1])
	if err != nil {
		return nil, err
	}

	// Edits within the copied lines, by line and byte range.
	type edit struct {
		line, start, end int
		text             string
	}
	var edits []edit
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		n := nodeAt(seq.Content[from], p)
		if n == nil {
			return nil, fmt.Errorf("images[%d].versions[%d] has no %s to set", img, from, p)
		}
		line, start, stop, err := scalarSpan(lines, n)
		if err != nil {
			return nil, fmt.Errorf("images[%d].versions[%d].%s: %w", img, from, p, err)
		}
		edits = append(edits, edit{line, start, stop, formatScalar(n.Style, set[p])})
	}
	sort.Slice(edits, func(i, j int) bool {
		if edits[i].line != edits[j].line {
			return edits[i].line < edits[j].line
		}
		return edits[i].start > edits[j].start // right to left within a line
	})
	copied := make([][]byte, 0, last-first+1)
	for l := first; l <= last; l++ {
		copied = append(copied, append([]byte(nil), lines[l]...))
	}
	for _, e := range edits {
		l := copied[e.line-first]
		copied[e.line-first] = append(append(append([]byte(nil), l[:e.start]...), e.text...), l[e.end:]...)
	}

	var out bytes.Buffer
	for l := 0; l <= end; l++ {
		out.Write(lines[l])
	}
	if !bytes.HasSuffix(lines[end], []byte("\n")) {
		out.WriteString(newline(src))
	}
	for i, l := range copied {
		out.Write(l)
		if i == len(copied)-1 && !bytes.HasSuffix(l, []byte("\n")) && end+1 < len(lines) {
			out.WriteString(newline(src))
		}
	}
	for l := end + 1; l < len(lines); l++ {
		out.Write(lines[l])
	}
	return out.Bytes(), nil
}

// RemoveVersion returns src without images[img].versions[i]: its lines,
// and the comment lines directly above it at its indentation (which
// describe it).
func RemoveVersion(src []byte, img, i int) ([]byte, error) {
	seq, err := versionsNode(src, img)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(seq.Content) {
		return nil, fmt.Errorf("images[%d] has no versions[%d]", img, i)
	}
	if len(seq.Content) == 1 {
		return nil, fmt.Errorf("images[%d].versions[%d] is the only version", img, i)
	}
	lines := splitLines(src)
	first, last, err := itemLines(lines, seq.Content[i])
	if err != nil {
		return nil, fmt.Errorf("images[%d].versions[%d]: %w", img, i, err)
	}
	dash := indent(lines[first])
	for first > 0 {
		prev := lines[first-1]
		t := bytes.TrimSpace(prev)
		if len(t) == 0 || t[0] != '#' || indent(prev) != dash {
			break
		}
		first--
	}
	var out bytes.Buffer
	for l := range lines {
		if l < first || l > last {
			out.Write(lines[l])
		}
	}
	return out.Bytes(), nil
}

// versionsNode finds images[img].versions in src, a block sequence.
func versionsNode(src []byte, img int) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s", yamlMessage(err))
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("empty document")
	}
	seq := nodeAt(doc.Content[0], fmt.Sprintf("images[%d].versions", img))
	if seq == nil || seq.Kind != yaml.SequenceNode || len(seq.Content) == 0 {
		return nil, fmt.Errorf("images[%d] has no versions list", img)
	}
	if seq.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("line %d: images[%d].versions is written in flow style ([...]); write one entry per line (- version: ...) to edit it", seq.Line, img)
	}
	for _, it := range seq.Content {
		if it.Kind != yaml.MappingNode || it.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("line %d: images[%d].versions: an entry written in flow style ({...}) cannot be edited; write it as a block mapping", it.Line, img)
		}
	}
	return seq, nil
}

// nodeAt walks a path such as images[0].versions or args.BAZEL_VERSION
// from n; nil if a step is missing.
func nodeAt(n *yaml.Node, path string) *yaml.Node {
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.Index(part, "["); i >= 0 {
			key = part[:i]
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
		}
		if key != "" {
			if n = mapValue(n, key); n == nil {
				return nil
			}
		}
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return nil
			}
			n = n.Content[idx]
		}
	}
	return n
}

// itemLines are the first and last line (0-based) of a block sequence
// item: from the line of its dash to its last line indented deeper than
// the dash, trailing blank lines left out.
func itemLines(lines [][]byte, item *yaml.Node) (int, int, error) {
	first := item.Line - 1
	for first >= 0 {
		t := bytes.TrimLeft(lines[first], " ")
		if bytes.HasPrefix(t, []byte("-")) {
			break
		}
		first--
	}
	if first < 0 {
		return 0, 0, fmt.Errorf("line %d: no '-' before the entry", item.Line)
	}
	dash := indent(lines[first])
	last := first
	for l := first + 1; l < len(lines); l++ {
		if len(bytes.TrimSpace(lines[l])) == 0 {
			continue
		}
		if indent(lines[l]) <= dash {
			break
		}
		last = l
	}
	return first, last, nil
}

func indent(line []byte) int { return len(line) - len(bytes.TrimLeft(line, " ")) }

func splitLines(src []byte) [][]byte {
	lines := bytes.SplitAfter(src, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func newline(src []byte) string {
	if bytes.Contains(src, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

// scalarSpan is the line (0-based) and byte range of a scalar's text as
// written, quotes included.
func scalarSpan(lines [][]byte, n *yaml.Node) (line, start, end int, err error) {
	if n.Kind != yaml.ScalarNode {
		return 0, 0, 0, fmt.Errorf("line %d: not a single value", n.Line)
	}
	line = n.Line - 1
	if line < 0 || line >= len(lines) {
		return 0, 0, 0, fmt.Errorf("line %d: out of range", n.Line)
	}
	l := lines[line]
	start = byteColumn(l, n.Column-1)
	switch n.Style {
	case yaml.DoubleQuotedStyle:
		for end = start + 1; end < len(l); end++ {
			if l[end] == '\\' {
				end++
				continue
			}
			if l[end] == '"' {
				return line, start, end + 1, nil
			}
		}
	case yaml.SingleQuotedStyle:
		for end = start + 1; end < len(l); end++ {
			if l[end] == '\'' {
				if end+1 < len(l) && l[end+1] == '\'' {
					end++
					continue
				}
				return line, start, end + 1, nil
			}
		}
	case 0:
		end = start + len(n.Value)
		if end <= len(l) && string(l[start:end]) == n.Value {
			return line, start, end, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("line %d: only a one-line value can be set", n.Line)
}

// byteColumn turns yaml's 0-based column, in characters, into a byte index.
func byteColumn(line []byte, col int) int {
	i := 0
	for ; col > 0 && i < len(line); col-- {
		_, size := utf8.DecodeRune(line[i:])
		i += size
	}
	return i
}

var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_./+-][A-Za-z0-9_./+~:-]*$`)

// formatScalar writes v in a scalar style: the same quotes, or plain when
// plain reads back as the same string.
func formatScalar(style yaml.Style, v string) string {
	switch {
	case style == yaml.SingleQuotedStyle:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case style == 0 && plainSafe.MatchString(v) && !strings.Contains(v, ": ") && !isYAMLKeyword(v):
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

func isYAMLKeyword(v string) bool {
	switch strings.ToLower(v) {
	case "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n":
		return true
	}
	return false
}
