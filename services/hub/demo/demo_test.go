package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/hub/demo"
)

func TestTheDemoTellsItsStoryAndRefusesTheForgery(t *testing.T) {
	var out bytes.Buffer
	var fix struct {
		Assessments []struct{ Country, Verdict string }
	}
	var page string
	ready := func(res *demo.Result) {
		// The coordinator's feed shows the story: the fix's matrix in the
		// API and the UI.
		bustest.Eventually(t, 10*time.Second, "the fix's matrix holds both verdicts", func() bool {
			get(t, "http://"+res.HTTPAddr+"/api/v1/fixes/"+res.FixID, &fix)
			return len(fix.Assessments) >= 2
		})
		page = getText(t, "http://"+res.HTTPAddr+"/fixes/"+res.FixID)
	}
	res, err := demo.Run(context.Background(), demo.Config{Out: &out, HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Exit: true, Ready: ready})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if res.Verdicts["ph"] != "applies" || res.Verdicts["lk"] != "present" {
		t.Errorf("verdicts %v, want ph applies and lk present", res.Verdicts)
	}
	if len(res.DeadLetters) != len(demo.Countries)+2 {
		t.Fatalf("%d dead letters, want one per node, one for the feed and one for the terminal view: %+v", len(res.DeadLetters), res.DeadLetters)
	}
	for _, dl := range res.DeadLetters {
		if dl.Reason != string(sign.ReasonUnknownKey) {
			t.Errorf("forged event refused by %s for %q, want %q", dl.Consumer, dl.Reason, sign.ReasonUnknownKey)
		}
	}
	verdicts := map[string]string{}
	for _, a := range fix.Assessments {
		verdicts[a.Country] = a.Verdict
	}
	if verdicts["ph"] != "applies" || verdicts["lk"] != "present" {
		t.Errorf("the feed's matrix for %s: %v", res.FixID, verdicts)
	}
	if !strings.Contains(page, "Handle a missing documents list") || !strings.Contains(page, "applies") {
		t.Errorf("the fix page does not show the fix and its verdicts:\n%.500s", page)
	}
	if !strings.Contains(out.String(), "No node acted on the forged event") {
		t.Errorf("the story does not say what happened to the forgery:\n%s", out.String())
	}
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
