package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/hub/demo"
)

func TestTheDemoTellsItsStoryAndRefusesTheForgery(t *testing.T) {
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), demo.Config{Out: &out, HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Exit: true})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if res.Verdicts["ph"] != "applies" || res.Verdicts["lk"] != "present" {
		t.Errorf("verdicts %v, want ph applies and lk present", res.Verdicts)
	}
	if len(res.DeadLetters) != len(demo.Countries)+1 {
		t.Fatalf("%d dead letters, want one per node and one for the coordinator: %+v", len(res.DeadLetters), res.DeadLetters)
	}
	for _, dl := range res.DeadLetters {
		if dl.Reason != string(sign.ReasonUnknownKey) {
			t.Errorf("forged event refused by %s for %q, want %q", dl.Consumer, dl.Reason, sign.ReasonUnknownKey)
		}
	}
	if !strings.Contains(out.String(), "No node acted on the forged event") {
		t.Errorf("the story does not say what happened to the forgery:\n%s", out.String())
	}
}
