package report_test

import (
	"encoding/json"
	"testing"

	"github.com/polyarch/polyarch/report"
)

func TestStatus(t *testing.T) {
	cases := []struct {
		s                         report.Status
		json                      string
		passed, published, failed bool
	}{
		{report.NotRun, `"not run"`, false, false, false},
		{report.Passed, `"passed"`, true, false, false},
		{report.BuildFailed, `"build failed"`, false, false, true},
		{report.TestsFailed, `"tests failed"`, false, false, true},
		{report.Published, `"published"`, false, true, false},
		{report.Unchanged, `"unchanged"`, false, true, false},
		{report.NotPublished, `"not published"`, false, false, true},
		{report.Waiting, `"waiting"`, false, false, false},
		{report.Superseded, `"superseded"`, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.s.String(), func(t *testing.T) {
			b, err := json.Marshal(tc.s)
			if err != nil || string(b) != tc.json {
				t.Fatalf("JSON %s, %v; want %s", b, err, tc.json)
			}
			var back report.Status
			if err := json.Unmarshal(b, &back); err != nil || back != tc.s {
				t.Errorf("read back %v, %v", back, err)
			}
			if tc.s.Passed() != tc.passed || tc.s.Published() != tc.published || tc.s.Failed() != tc.failed {
				t.Errorf("Passed %v Published %v Failed %v; want %v %v %v", tc.s.Passed(), tc.s.Published(), tc.s.Failed(), tc.passed, tc.published, tc.failed)
			}
		})
	}
	var s report.Status
	if err := json.Unmarshal([]byte(`"tests failed; left out (optional)"`), &s); err == nil {
		t.Error("a status that is two statuses joined was read")
	}
	if _, err := json.Marshal(report.Status(200)); err == nil {
		t.Error("an unknown status was written")
	}
}
