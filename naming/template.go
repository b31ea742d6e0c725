package naming

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

// A naming template is user input (polyarch.yaml, --template), so it gets
// only what naming needs and nothing that could loop or allocate without
// bound: the fields of Data, variables, {{if}}/{{else}}, pipelines of the
// functions below, and string, number and bool literals. {{range}},
// {{with}}, {{define}}, {{template}} and {{block}}, and every other function
// (printf, call, index, slice...) are refused when the template is parsed.
// What a template renders is bounded by MaxLength.
//
// The functions:
//
//	lower S, upper S
//	trimPrefix PREFIX S, trimSuffix SUFFIX S   {{trimPrefix "v" .Version}}
//	replace OLD NEW S                          {{.Version | replace "+" "_"}}
//	eq, ne, and, or, not                       {{if eq .Arch "arm"}}...{{end}}

// MaxLength is the most a template may render, in bytes. A reference is at
// most 255 bytes of name and 128 of tag.
const MaxLength = 512

var funcs = template.FuncMap{
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"replace": func(old, new, s string) (string, error) {
		// A chain of replaces grows tenfold at each step: bound it before it is built.
		if n := len(s) + strings.Count(s, old)*(len(new)-len(old)); n > MaxLength {
			return "", tooLong()
		}
		return strings.ReplaceAll(s, old, new), nil
	},
}

// builtins are text/template's own functions that a template may use.
var builtins = []string{"eq", "ne", "and", "or", "not"}

// fields are the names of Data's fields.
var fields = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(Data{})
	for i := 0; i < t.NumField(); i++ {
		m[t.Field(i).Name] = true
	}
	return m
}()

func fieldList() string {
	var out []string
	for f := range fields {
		out = append(out, "."+f)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func funcList() string {
	var out []string
	for f := range funcs {
		out = append(out, f)
	}
	sort.Strings(out)
	return strings.Join(append(out, builtins...), ", ")
}

func tooLong() error {
	return fmt.Errorf("renders more than %d bytes: no reference is that long", MaxLength)
}

// parseGo parses a Go template and checks that it uses only what naming allows.
func parseGo(text string) (*template.Template, error) {
	tmpl, err := template.New("ref").Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", text, err)
	}
	if len(tmpl.Templates()) > 1 {
		return nil, fmt.Errorf("template %q: {{define}} and {{block}} are not allowed in a naming template (nor {{template}})", text)
	}
	var c checker
	c.list(tmpl.Tree.Root)
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("template %q: %s", text, strings.Join(c.errs, "; "))
	}
	return tmpl, nil
}

// checker walks a parse tree and notes every node naming does not allow.
// Each message names the construct, field or function: templates are one
// line, and text/template's positions point inside actions, not at them.
type checker struct{ errs []string }

func (c *checker) refuse(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *checker) list(l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(n)
	}
}

func (c *checker) node(n parse.Node) {
	switch n := n.(type) {
	case *parse.TextNode, *parse.CommentNode:
	case *parse.ActionNode:
		c.pipe(n.Pipe)
	case *parse.IfNode:
		c.pipe(n.Pipe)
		c.list(n.List)
		c.list(n.ElseList)
	case *parse.ListNode:
		c.list(n)
	case *parse.RangeNode:
		c.refuse("{{range}} is not allowed in a naming template")
	case *parse.WithNode:
		c.refuse("{{with}} is not allowed in a naming template")
	case *parse.TemplateNode:
		c.refuse("{{template}} is not allowed in a naming template")
	default:
		c.refuse("%s is not allowed in a naming template", n)
	}
}

func (c *checker) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			c.arg(arg)
		}
	}
}

func (c *checker) arg(n parse.Node) {
	switch n := n.(type) {
	case *parse.FieldNode:
		c.field(n, n.Ident)
	case *parse.VariableNode:
		// $ is the data: $.Arch is .Arch. Other variables hold strings.
		if len(n.Ident) > 1 {
			if n.Ident[0] == "$" {
				c.field(n, n.Ident[1:])
			} else {
				c.refuse("%s: a variable holds a string, it has no fields", n)
			}
		}
	case *parse.IdentifierNode:
		if _, ok := funcs[n.Ident]; !ok && !slices.Contains(builtins, n.Ident) {
			c.refuse("function %q is not allowed in a naming template (it may use %s)", n.Ident, funcList())
		}
	case *parse.PipeNode:
		c.pipe(n)
	case *parse.StringNode, *parse.NumberNode, *parse.BoolNode:
	case *parse.DotNode:
		c.refuse("{{.}} is not allowed: name a field (%s)", fieldList())
	default:
		c.refuse("%s is not allowed in a naming template (use the fields %s)", n, fieldList())
	}
}

func (c *checker) field(n parse.Node, ident []string) {
	if len(ident) != 1 || !fields[ident[0]] {
		c.refuse("unknown field .%s (a naming template has %s)", strings.Join(ident, "."), fieldList())
	}
}

// bounded is a strings.Builder that refuses to grow past MaxLength.
type bounded struct{ b strings.Builder }

func (w *bounded) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxLength {
		return 0, tooLong()
	}
	return w.b.Write(p)
}
