package service_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
)

// publishUnsigned publishes a heartbeat in Morocco's name that Morocco
// did not sign, on Morocco's subject: a forgery the feed refuses.
func (w *world) publishUnsigned(t *testing.T, id string) {
	t.Helper()
	e, err := events.New(events.Source{Country: "ma", Service: "node"}, "", events.NodeHeartbeat{Version: "forged", StartedAt: time.Now()},
		events.WithID(id), events.WithTime(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	bustest.PublishRaw(t, w.bus.JetStream(), bustest.Encode(t, e))
}

func TestBrowserARefusedForgeryAppearsWithoutAReload(t *testing.T) {
	w := newWorld(t)
	w.publish(t, w.steps)
	w.waitApplied(t, uint64(len(w.steps)))
	ctx := feedtest.Browser(t)
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	do(chromedp.Navigate(w.url+"/refused"), chromedp.WaitVisible(chromedp.CSS("#refusals")))
	if n := feedtest.JS[int](t, ctx, `document.querySelectorAll("#refusals tbody tr").length`); n != 0 {
		t.Fatalf("%d refusals before any", n)
	}
	do(chromedp.Evaluate[chromedp.Void](`window.__loaded = true`))

	w.publishUnsigned(t, "forged-1")
	feedtest.WaitJS(t, ctx, "the refused forgery appears on the open page",
		`!!document.querySelector('#refusals tbody tr[data-reason="unsigned"].forgery')`)
	if !feedtest.JS[bool](t, ctx, `window.__loaded === true`) {
		t.Fatal("the page was reloaded")
	}
	row := feedtest.JS[string](t, ctx, `document.querySelector('#refusals tbody tr').textContent.replace(/\s+/g, " ")`)
	if !strings.Contains(row, "MA") || !strings.Contains(row, "forgery") || !strings.Contains(row, "node.heartbeat") || !strings.Contains(row, "dpi.ma.node.heartbeat") {
		t.Fatalf("the new row reads %q", row)
	}
	if got := feedtest.JS[string](t, ctx, `document.querySelector("#refused-total").textContent`); got != "1" {
		t.Fatalf("the total reads %q", got)
	}

	t.Run("every page then says a forgery was attempted", func(t *testing.T) {
		do(chromedp.Navigate(w.url+"/matrix"), chromedp.WaitVisible(chromedp.CSS("#forgery-notice")))
		text := feedtest.JS[string](t, ctx, `document.querySelector("#forgery-notice").textContent`)
		if !strings.Contains(text, "1 forgery attempt in the last day") || !strings.Contains(text, "Morocco") || !strings.Contains(text, "unsigned") {
			t.Fatalf("the notice reads %q", text)
		}
	})

	t.Run("the API counts it by country and reason", func(t *testing.T) {
		res, err := http.Get(w.url + "/api/v1/refused")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var s struct {
			Total, Forgeries int
			ByCountry        []struct {
				Name string
				N    int
			} `json:"by_country"`
			ByReason []struct {
				Name string
				N    int
			} `json:"by_reason"`
		}
		if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		if s.Total != 1 || s.Forgeries != 1 || len(s.ByCountry) != 1 || s.ByCountry[0].Name != "ma" || s.ByReason[0].Name != "unsigned" {
			t.Fatalf("%+v", s)
		}
	})
}
