package drift

import (
	"sort"
	"strings"
)

// The BuildKit parser says which lines an instruction spans but not where
// in them a value is; these read an instruction's words with their byte
// offsets, so a version can be named at its line and rewritten in place.

// token is one shell word of an instruction as written (quotes kept), or a
// command separator (&&, ||, ;, |, parentheses).
type token struct {
	text string
	off  int // of text in the file
	sep  bool
}

// unquoted is the word without surrounding quotes and the offset of its
// first character; ok is false for a word quoted only in part.
func (t token) unquoted() (string, int, bool) {
	s := t.text
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		inner := s[1 : len(s)-1]
		return inner, t.off + 1, !strings.ContainsAny(inner, `"'\`)
	}
	return s, t.off, !strings.ContainsAny(s, `"'\`)
}

// tokenize splits src[start:end], one instruction, into words. Line
// continuations (escape then newline) and comment lines inside them are
// spaces; quoted text stays in its word.
func tokenize(src []byte, start, end int, escape byte) []token {
	var out []token
	wordStart := -1
	emit := func(i int) {
		if wordStart >= 0 {
			out = append(out, token{text: string(src[wordStart:i]), off: wordStart})
			wordStart = -1
		}
	}
	lineStart := true
	for i := start; i < end; i++ {
		c := src[i]
		if lineStart && i > start {
			// A comment line inside a continued instruction.
			j := i
			for j < end && (src[j] == ' ' || src[j] == '\t') {
				j++
			}
			if j < end && src[j] == '#' {
				for j < end && src[j] != '\n' {
					j++
				}
				i = j
				continue
			}
		}
		lineStart = false
		switch {
		case c == '\n':
			emit(i)
			lineStart = true
		case c == escape && i+1 < end && (src[i+1] == '\n' || (src[i+1] == '\r' && i+2 < end && src[i+2] == '\n')):
			emit(i)
			if src[i+1] == '\r' {
				i++
			}
			i++
			lineStart = true
		case c == escape && i+1 < end:
			if wordStart < 0 {
				wordStart = i
			}
			i++
		case c == ' ' || c == '\t' || c == '\r':
			emit(i)
		case c == '"' || c == '\'':
			if wordStart < 0 {
				wordStart = i
			}
			for i++; i < end && src[i] != c && src[i] != '\n'; i++ {
				if c == '"' && src[i] == '\\' && i+1 < end {
					i++
				}
			}
		case c == ';' || c == '(' || c == ')':
			emit(i)
			out = append(out, token{text: string(c), off: i, sep: true})
		case (c == '&' || c == '|') && i+1 < end && src[i+1] == c:
			emit(i)
			out = append(out, token{text: string(src[i : i+2]), off: i, sep: true})
			i++
		case c == '|':
			emit(i)
			out = append(out, token{text: "|", off: i, sep: true})
		default:
			if wordStart < 0 {
				wordStart = i
			}
		}
	}
	emit(end)
	return out
}

// assignment is one KEY=value of an ARG or ENV, value unquoted and off
// its offset in the file.
type assignment struct {
	key, value string
	off        int
}

// assignments reads ARG and ENV words: KEY=value pairs, or ENV's legacy
// "ENV KEY value" whose value is one word.
func assignments(words []token) []assignment {
	var out []assignment
	if len(words) == 0 {
		return nil
	}
	if !strings.Contains(words[0].text, "=") {
		if len(words) == 2 {
			if v, off, ok := words[1].unquoted(); ok {
				out = append(out, assignment{key: words[0].text, value: v, off: off})
			}
		}
		return out
	}
	for _, w := range words {
		k, raw, ok := strings.Cut(w.text, "=")
		if !ok || k == "" {
			continue
		}
		v, off, ok := token{text: raw, off: w.off + len(k) + 1}.unquoted()
		if !ok {
			continue
		}
		out = append(out, assignment{key: k, value: v, off: off})
	}
	return out
}

// lineStarts is the offset of each line's first byte.
func lineStarts(src []byte) []int {
	out := []int{0}
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			out = append(out, i+1)
		}
	}
	return out
}

// lineOf is the 1-based line of offset off.
func lineOf(starts []int, off int) int {
	return sort.Search(len(starts), func(i int) bool { return starts[i] > off })
}
