package ci

import "testing"

func TestConditionsPerEvent(t *testing.T) {
	for _, tc := range []struct {
		cond string
		// what the condition is for a push and for a pull request
		push, pr truth
	}{
		{"github.event_name == 'push'", yes, no},
		{"${{ github.event_name == 'push' }}", yes, no},
		{"github.event_name == 'PUSH'", yes, no}, // strings compare ignoring case
		{"github.event_name != 'pull_request'", yes, no},
		{"github.event_name == 'push' || github.event_name == 'release'", yes, no},
		{"github.repository == 'o/r' && (github.event_name == 'push' || github.event_name == 'schedule')", maybe, no},
		{"github.repository == 'o/r' || github.event_name == 'push'", yes, maybe},
		{"!contains(fromJSON('[\"pull_request\",\"issue_comment\"]'), github.event_name)", yes, no},
		{"contains(github.event_name, 'pull')", no, yes},
		{"startsWith(github.event_name, 'pull_')", no, yes},
		{"github['event_name'] == 'push'", yes, no},
		{"success() && github.event_name == 'push'", maybe, no},
		{"always()", yes, yes},
		{"${{ always() }}", yes, yes},
		{"github.event.pull_request.head.repo.full_name == github.repository", maybe, maybe},
		{"github.event_name == 'push' && github.ref == 'refs/heads/main'", maybe, no},
		{"false", no, no},
		{"0", no, no},
		{"'x'", yes, yes},
		{"1 < 2 && github.event_name == 'push'", yes, no},
		{"null == 0", yes, yes}, // mismatched types compare as numbers
		{"'it''s' == 'it''s'", yes, yes},
		// Not readable: assume anything.
		{"github.event_name == ", maybe, maybe},
		{"github.event_name == 'push' garbage", maybe, maybe},
		{"${{ github.event_name }} == 'push'", maybe, maybe},
		{"((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))", maybe, maybe},
	} {
		push := evalCondition(tc.cond, map[string]string{"github.event_name": "push"})
		pr := evalCondition(tc.cond, map[string]string{"github.event_name": "pull_request"})
		if push != tc.push || pr != tc.pr {
			t.Errorf("%s: push %v pull_request %v, want %v %v", tc.cond, push, pr, tc.push, tc.pr)
		}
	}
}

func (t truth) String() string {
	switch t {
	case yes:
		return "yes"
	case no:
		return "no"
	}
	return "maybe"
}

// FuzzCondition: any if: is read without panicking, and the result is a
// truth value.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"github.event_name == 'push'", "!contains(fromJSON('[1,2]'), 1) && a.b['c'].*.d >= 0x1F", "((", "'unterminated", "-1e3 < +2", "format('{0}', github.event_name) != ''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		if got := evalCondition(cond, map[string]string{"github.event_name": "push"}); got != yes && got != no && got != maybe {
			t.Errorf("%q: %v", cond, got)
		}
	})
}
