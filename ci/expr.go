package ci

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A small evaluator of GitHub Actions expressions (the language of if:),
// enough to answer one question: can this condition be true when the event
// is E? Only the contexts the caller knows (github.event_name) have values;
// everything else is unknown, and a result that depends on an unknown is
// "maybe". Errors and anything unsupported are "maybe" too: ci check then
// assumes the job can run, never the reverse.
//
// The grammar and semantics follow GitHub's documentation: literals null,
// booleans, numbers and 'strings' ('' escapes a quote); property access
// a.b, a['b'], a.*; calls; ! < <= > >= == != && ||, with that precedence;
// && and || return one of their operands; == compares strings ignoring
// case and coerces mismatched types to numbers.

// truth is what a condition can be: true, false, or either.
type truth int

const (
	maybe truth = iota
	yes
	no
)

// value is an expression's value: known (v is nil, bool, float64,
// string, []any or map[string]any) or unknown with what is known of its
// truthiness.
type value struct {
	known bool
	v     any
	truth truth
}

func known(v any) value { return value{known: true, v: v, truth: truthOf(v)} }

var unknown = value{}

func truthOf(v any) truth {
	switch v := v.(type) {
	case nil:
		return no
	case bool:
		if v {
			return yes
		}
		return no
	case float64:
		if v == 0 || math.IsNaN(v) {
			return no
		}
	case string:
		if v == "" {
			return no
		}
	}
	return yes
}

// maxExprDepth bounds nesting, so a hostile workflow cannot exhaust the stack.
const maxExprDepth = 64

var errExprDepth = errors.New("expression nested too deeply")

// evalCondition returns what an if: can be, with vars giving the known
// contexts by lower-case path ("github.event_name").
func evalCondition(cond string, vars map[string]string) truth {
	s := strings.TrimSpace(cond)
	if strings.HasPrefix(s, "${{") && strings.HasSuffix(s, "}}") && strings.Count(s, "${{") == 1 {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "${{"), "}}")
	} else if strings.Contains(s, "${{") {
		return maybe // text around ${{ }}: always a non-empty string, but rare; assume anything
	}
	p := &exprParser{src: s, vars: vars}
	p.next()
	v, err := p.or(0)
	if err != nil || p.tok.kind != tokEOF {
		return maybe
	}
	return v.truth
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokOp
	tokErr
)

type token struct {
	kind tokKind
	text string
}

type exprParser struct {
	src  string
	pos  int
	tok  token
	vars map[string]string
}

func (p *exprParser) next() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
	if p.pos >= len(p.src) {
		p.tok = token{kind: tokEOF}
		return
	}
	c, rest := p.src[p.pos], p.src[p.pos:]
	switch {
	case c == '\'':
		var b strings.Builder
		i := 1
		for {
			if i >= len(rest) {
				p.tok, p.pos = token{kind: tokErr}, len(p.src)
				return
			}
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			b.WriteByte(rest[i])
			i++
		}
		p.tok, p.pos = token{kind: tokString, text: b.String()}, p.pos+i+1
	case c >= '0' && c <= '9' || (c == '-' || c == '+') && len(rest) > 1 && (rest[1] >= '0' && rest[1] <= '9'):
		i := 1
		for i < len(rest) && strings.IndexByte("0123456789abcdefABCDEFxXoO.+-", rest[i]) >= 0 {
			if (rest[i] == '+' || rest[i] == '-') && rest[i-1] != 'e' && rest[i-1] != 'E' {
				break
			}
			i++
		}
		p.tok, p.pos = token{kind: tokNumber, text: rest[:i]}, p.pos+i
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		i := 1
		for i < len(rest) && (rest[i] == '_' || rest[i] == '-' || rest[i] >= 'a' && rest[i] <= 'z' || rest[i] >= 'A' && rest[i] <= 'Z' || rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		p.tok, p.pos = token{kind: tokIdent, text: rest[:i]}, p.pos+i
	default:
		for _, op := range []string{"&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")", "[", "]", ".", ",", "*"} {
			if strings.HasPrefix(rest, op) {
				p.tok, p.pos = token{kind: tokOp, text: op}, p.pos+len(op)
				return
			}
		}
		p.tok, p.pos = token{kind: tokErr}, len(p.src)
	}
}

func (p *exprParser) isOp(op string) bool { return p.tok.kind == tokOp && p.tok.text == op }

func (p *exprParser) expect(op string) error {
	if !p.isOp(op) {
		return fmt.Errorf("want %q at %d", op, p.pos)
	}
	p.next()
	return nil
}

func (p *exprParser) or(depth int) (value, error) {
	l, err := p.and(depth)
	for err == nil && p.isOp("||") {
		p.next()
		var r value
		if r, err = p.and(depth); err == nil {
			l = orValues(l, r)
		}
	}
	return l, err
}

func orValues(l, r value) value {
	switch l.truth {
	case yes:
		return l
	case no:
		return r
	}
	if r.truth == yes {
		return value{truth: yes}
	}
	return unknown
}

func (p *exprParser) and(depth int) (value, error) {
	l, err := p.equality(depth)
	for err == nil && p.isOp("&&") {
		p.next()
		var r value
		if r, err = p.equality(depth); err == nil {
			l = andValues(l, r)
		}
	}
	return l, err
}

func andValues(l, r value) value {
	switch l.truth {
	case no:
		return l
	case yes:
		return r
	}
	if r.truth == no {
		return value{truth: no}
	}
	return unknown
}

func (p *exprParser) equality(depth int) (value, error) {
	l, err := p.comparison(depth)
	for err == nil && (p.isOp("==") || p.isOp("!=")) {
		neq := p.tok.text == "!="
		p.next()
		var r value
		if r, err = p.comparison(depth); err == nil {
			eq, ok := looseEqual(l, r)
			l = unknown
			if ok {
				l = known(eq != neq)
			}
		}
	}
	return l, err
}

func (p *exprParser) comparison(depth int) (value, error) {
	l, err := p.unary(depth)
	for err == nil && (p.isOp("<") || p.isOp("<=") || p.isOp(">") || p.isOp(">=")) {
		op := p.tok.text
		p.next()
		var r value
		if r, err = p.unary(depth); err == nil {
			l = compare(op, l, r)
		}
	}
	return l, err
}

func (p *exprParser) unary(depth int) (value, error) {
	if depth > maxExprDepth {
		return unknown, errExprDepth
	}
	if p.isOp("!") {
		p.next()
		v, err := p.unary(depth + 1)
		if err != nil {
			return v, err
		}
		switch v.truth {
		case yes:
			return known(false), nil
		case no:
			return known(true), nil
		}
		return unknown, nil
	}
	return p.postfix(depth)
}

func (p *exprParser) postfix(depth int) (value, error) {
	switch p.tok.kind {
	case tokString:
		v := known(p.tok.text)
		p.next()
		return v, nil
	case tokNumber:
		f, ok := parseNumber(p.tok.text)
		p.next()
		if !ok {
			return unknown, errors.New("bad number")
		}
		return known(f), nil
	case tokOp:
		if !p.isOp("(") {
			return unknown, fmt.Errorf("unexpected %q", p.tok.text)
		}
		p.next()
		v, err := p.or(depth + 1)
		if err != nil {
			return v, err
		}
		if err := p.expect(")"); err != nil {
			return v, err
		}
		return p.access(v, "", depth)
	case tokIdent:
		name := p.tok.text
		p.next()
		switch strings.ToLower(name) {
		case "true":
			return known(true), nil
		case "false":
			return known(false), nil
		case "null":
			return known(nil), nil
		case "nan":
			return known(math.NaN()), nil
		case "infinity":
			return known(math.Inf(1)), nil
		}
		if p.isOp("(") {
			p.next()
			var args []value
			for !p.isOp(")") {
				a, err := p.or(depth + 1)
				if err != nil {
					return a, err
				}
				args = append(args, a)
				if !p.isOp(",") {
					break
				}
				p.next()
			}
			if err := p.expect(")"); err != nil {
				return unknown, err
			}
			return p.access(call(name, args), "", depth)
		}
		return p.access(unknown, strings.ToLower(name), depth)
	}
	return unknown, errors.New("unexpected end")
}

// access applies .prop, ['prop'] and .* to v; path is the context path so
// far, while it is still a plain one (github.event_name).
func (p *exprParser) access(v value, path string, depth int) (value, error) {
	for {
		switch {
		case p.isOp("."):
			p.next()
			if p.isOp("*") {
				p.next()
				v, path = unknown, ""
				continue
			}
			if p.tok.kind != tokIdent {
				return unknown, errors.New("want a property name")
			}
			v, path = property(v, p.tok.text), join(path, p.tok.text)
			p.next()
		case p.isOp("["):
			p.next()
			i, err := p.or(depth + 1)
			if err != nil {
				return i, err
			}
			if err := p.expect("]"); err != nil {
				return unknown, err
			}
			if s, ok := i.v.(string); ok && i.known {
				v, path = property(v, s), join(path, s)
			} else {
				v, path = unknown, ""
			}
		default:
			if path != "" {
				if s, ok := p.vars[path]; ok {
					return known(s), nil
				}
			}
			return v, nil
		}
	}
}

func join(path, prop string) string {
	if path == "" {
		return ""
	}
	return path + "." + strings.ToLower(prop)
}

func property(v value, name string) value {
	if m, ok := v.v.(map[string]any); ok && v.known {
		for k, e := range m {
			if strings.EqualFold(k, name) {
				return known(e)
			}
		}
		return known(nil)
	}
	return unknown
}

func call(name string, args []value) value {
	str := func(i int) (string, bool) {
		if i >= len(args) || !args[i].known {
			return "", false
		}
		return toString(args[i].v), true
	}
	switch strings.ToLower(name) {
	case "always":
		return known(true)
	case "startswith", "endswith":
		a, ok1 := str(0)
		b, ok2 := str(1)
		if !ok1 || !ok2 {
			return unknown
		}
		a, b = strings.ToLower(a), strings.ToLower(b)
		if strings.EqualFold(name, "startsWith") {
			return known(strings.HasPrefix(a, b))
		}
		return known(strings.HasSuffix(a, b))
	case "contains":
		if len(args) != 2 || !args[0].known || !args[1].known {
			return unknown
		}
		if arr, ok := args[0].v.([]any); ok {
			for _, e := range arr {
				if eq, ok := looseEqual(known(e), args[1]); ok && eq {
					return known(true)
				}
			}
			return known(false)
		}
		return known(strings.Contains(strings.ToLower(toString(args[0].v)), strings.ToLower(toString(args[1].v))))
	case "fromjson":
		s, ok := str(0)
		if !ok {
			return unknown
		}
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return unknown
		}
		return known(v)
	}
	// success(), failure(), cancelled(), format, join, toJSON, hashFiles...
	return unknown
}

func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	}
	return "Array" // GitHub's string for arrays and objects
}

func toNumber(v any) float64 {
	switch v := v.(type) {
	case nil:
		return 0
	case bool:
		if v {
			return 1
		}
		return 0
	case float64:
		return v
	case string:
		if strings.TrimSpace(v) == "" {
			return 0
		}
		if f, ok := parseNumber(strings.TrimSpace(v)); ok {
			return f
		}
	}
	return math.NaN()
}

func parseNumber(s string) (float64, bool) {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(i), true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// looseEqual is GitHub's ==; ok is false when either side is unknown.
func looseEqual(l, r value) (eq, ok bool) {
	if !l.known || !r.known {
		return false, false
	}
	switch a := l.v.(type) {
	case string:
		if b, isStr := r.v.(string); isStr {
			return strings.EqualFold(a, b), true
		}
	case nil:
		if r.v == nil {
			return true, true
		}
	case bool:
		if b, isBool := r.v.(bool); isBool {
			return a == b, true
		}
	case float64:
		if b, isNum := r.v.(float64); isNum {
			return a == b, true
		}
	case []any, map[string]any:
		return false, true // compared by identity: never equal to another value
	}
	if _, isArr := r.v.([]any); isArr {
		return false, true
	}
	if _, isObj := r.v.(map[string]any); isObj {
		return false, true
	}
	return toNumber(l.v) == toNumber(r.v), true
}

func compare(op string, l, r value) value {
	if !l.known || !r.known {
		return unknown
	}
	var c int
	a, aStr := l.v.(string)
	b, bStr := r.v.(string)
	if aStr && bStr {
		c = strings.Compare(strings.ToLower(a), strings.ToLower(b))
	} else {
		x, y := toNumber(l.v), toNumber(r.v)
		if math.IsNaN(x) || math.IsNaN(y) {
			return known(false)
		}
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	}
	switch op {
	case "<":
		return known(c < 0)
	case "<=":
		return known(c <= 0)
	case ">":
		return known(c > 0)
	}
	return known(c >= 0)
}
