package feedtest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dpihub/dpihub/events/bus/bustest"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Browser starts a real headless Chromium with a fresh profile and returns
// a context for chromedp actions on one tab; the browser is closed when
// the test ends. Without Chromium the test is skipped, unless CI is set:
// then it fails, so CI never passes by skipping the page tests.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := ChromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else {
			if os.Getenv("CI") != "" {
				t.Fatalf("Chromium not found at %s and CI is set: install Debian's chromium package", ChromiumPath)
			}
			t.Skipf("Chromium not found at %s; install Debian's chromium package (apt-get install chromium) to run the page tests", ChromiumPath)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	// Start the browser now, so a failure to start is reported here.
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// No test step should take long; a hang fails instead of stalling.
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// WaitJS waits until the JavaScript expression expr is true in the page,
// failing the test after 15 s with what (and the last error evaluating
// expr, if there was one).
func WaitJS(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	var last error
	done := false
	defer func() { // also when Eventually fails the test
		t.Helper()
		if !done && last != nil {
			t.Logf("%s: last error evaluating %s: %v", what, expr, last)
		}
	}()
	bustest.Eventually(t, 15*time.Second, what, func() bool {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		last = err
		return err == nil && ok
	})
	done = true
}

// JS evaluates expr in the page and returns its value.
func JS[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}
