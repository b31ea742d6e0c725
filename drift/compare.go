package drift

import (
	"sort"
	"strings"
)

// Status is how one tool compares.
type Status string

// The statuses of a Row.
const (
	Same         Status = "same"
	Differs      Status = "differs"
	OnlyOurs     Status = "only ours"
	OnlyUpstream Status = "only upstream"
)

// Drift reports whether the status is drift: a version that differs, or a
// tool upstream has and ours lacks. A tool only ours has (one of our own
// additions) is not.
func (s Status) Drift() bool { return s == Differs || s == OnlyUpstream }

// Row is one tool of a comparison.
type Row struct {
	// Tool is the name both sides are compared as (after aliases).
	Tool     string `json:"tool"`
	Ours     *Tool  `json:"ours,omitempty"`
	Upstream *Tool  `json:"upstream,omitempty"`
	Status   Status `json:"status"`
	// Also are further places ours sets the same tool to the same version
	// (an ARG redeclared in a later stage): a rewrite changes them too.
	Also []Tool `json:"-"`
}

// Aliases rename tools for a comparison: a tool whose name is a key is
// compared as its value. Names are read as tool names either way, so
// GOLANG_VERSION and golang are the same key.
type Aliases map[string]string

// NewAliases reads drift.aliases of polyarch.yaml.
func NewAliases(m map[string]string) Aliases {
	a := Aliases{}
	for k, v := range m {
		a[normalise(k)] = normalise(v)
	}
	return a
}

func (a Aliases) name(t Tool) string {
	if v, ok := a[t.Name]; ok {
		return v
	}
	if v, ok := a[strings.ToLower(t.Key)]; ok {
		return v
	}
	return t.Name
}

// Compare compares our tools with upstream's, one row per tool sorted by
// name. Where ours sets a tool twice to the same version, the second is in
// the row's Also; to another version, it is a row of its own, compared with
// the same upstream setting. Where upstream sets a tool more than once, its
// first setting is the one compared.
func Compare(ours, upstream []Tool, aliases Aliases) []Row {
	rows := map[string][]*Row{}
	var names []string
	for _, t := range ours {
		t := t
		name := aliases.name(t)
		if rows[name] == nil {
			names = append(names, name)
		}
		found := false
		for _, r := range rows[name] {
			if r.Ours.Version == t.Version {
				r.Also, found = append(r.Also, t), true
				break
			}
		}
		if !found {
			rows[name] = append(rows[name], &Row{Tool: name, Ours: &t})
		}
	}
	seen := map[string]bool{}
	for _, t := range upstream {
		t := t
		name := aliases.name(t)
		if seen[name] {
			continue
		}
		seen[name] = true
		if rows[name] == nil {
			names = append(names, name)
			rows[name] = []*Row{{Tool: name}}
		}
		for _, r := range rows[name] {
			r.Upstream = &t
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return names[i] < names[j] })
	var out []Row
	for _, name := range names {
		for _, r := range rows[name] {
			switch {
			case r.Upstream == nil:
				r.Status = OnlyOurs
			case r.Ours == nil:
				r.Status = OnlyUpstream
			case SameVersion(r.Ours.Version, r.Upstream.Version):
				r.Status = Same
			default:
				r.Status = Differs
			}
			out = append(out, *r)
		}
	}
	return out
}

// SameVersion compares two versions, a leading v aside: v1.2.3 is 1.2.3.
func SameVersion(a, b string) bool {
	return a == b || trimV(a) == trimV(b)
}

func trimV(s string) string {
	if len(s) > 1 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9' {
		return s[1:]
	}
	return s
}

// Follow is upstream's version spelled as ours spells its versions: with
// or without the leading v (ours 1.17.5, upstream v1.18.0: 1.18.0).
func Follow(ours, upstream string) string {
	switch {
	case trimV(ours) != ours && trimV(upstream) == upstream && upstream != "" && upstream[0] >= '0' && upstream[0] <= '9':
		return "v" + upstream
	case trimV(ours) == ours && ours != "" && ours[0] >= '0' && ours[0] <= '9' && trimV(upstream) != upstream:
		return trimV(upstream)
	}
	return upstream
}

// Edit replaces Len bytes at Offset of a file with Text.
type Edit struct {
	Offset, Len int
	Text        string
}

// Apply makes edits to src, which must not overlap.
func Apply(src []byte, edits []Edit) []byte {
	sorted := append([]Edit(nil), edits...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Offset > sorted[j].Offset })
	out := append([]byte(nil), src...)
	for _, e := range sorted {
		out = append(out[:e.Offset], append([]byte(e.Text), out[e.Offset+e.Len:]...)...)
	}
	return out
}
