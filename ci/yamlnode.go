package ci

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The generators build yaml.Node trees rather than text, so every value is
// quoted as YAML needs, whatever polyarch.yaml holds, and comments sit
// where a reader looks for them.

// mapping is a YAML mapping being built, in insertion order.
type mapping struct{ n *yaml.Node }

func newMapping() *mapping { return &mapping{&yaml.Node{Kind: yaml.MappingNode}} }

// set appends key: v; v is a string, bool, int, []string, *mapping or *yaml.Node.
func (m *mapping) set(key string, v any) *mapping {
	m.n.Content = append(m.n.Content, scalar(key), node(v))
	return m
}

// comment puts a comment above the last key set.
func (m *mapping) comment(text string) *mapping {
	m.n.Content[len(m.n.Content)-2].HeadComment = text
	return m
}

// lineComment puts a comment after the last value set.
func (m *mapping) lineComment(text string) *mapping {
	m.n.Content[len(m.n.Content)-1].LineComment = text
	return m
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func node(v any) *yaml.Node {
	switch v := v.(type) {
	case string:
		return scalar(v)
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(v)}
	case []string:
		s := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, e := range v {
			s.Content = append(s.Content, scalar(e))
		}
		return s
	case *mapping:
		return v.n
	case *yaml.Node:
		return v
	}
	panic(fmt.Sprintf("ci: no YAML node for %T", v))
}

// sequence is a block sequence of nodes.
func sequence(items ...any) *yaml.Node {
	s := &yaml.Node{Kind: yaml.SequenceNode}
	for _, it := range items {
		s.Content = append(s.Content, node(it))
	}
	return s
}

// encode writes a document with two-space indentation.
func encode(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
