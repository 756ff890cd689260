package browser

import (
	"context"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Environment variables that steer the browser.
const (
	envChromium    = "SESSIONKIT_TEST_CHROMIUM"
	envSkipBrowser = "SESSIONKIT_TEST_SKIP_BROWSER"
	envScreenshots = "SESSIONKIT_TEST_SCREENSHOTS"
)

const skipMessage = "browser: no Chromium for browser tests; apt-get install chromium, or set " +
	envChromium + " to the browser's path"

// noBrowserMessage is what TestMain prints when tests skipped for want of
// a browser; %d is how many.
const noBrowserMessage = `browser: FAIL: %d browser tests were skipped: no Chromium.
  Install it (apt-get install chromium) so that chromium is on PATH, or set ` + envChromium + ` to its path.
  Or set ` + envSkipBrowser + `=1 to run without the browser tests.
`

// browserSkips counts the tests skipped for want of a browser.
var browserSkips atomic.Int64

// chromiumPath returns the browser to drive, or skips t.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if path := os.Getenv(envChromium); path != "" {
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	browserSkips.Add(1)
	t.Skip(skipMessage)
	return ""
}

// newBrowser starts a Chromium process of its own, headless, with a fresh
// profile and the given User-Agent header, and returns the context of its
// first tab. The browser is closed when the test ends.
func newBrowser(t *testing.T, userAgent string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.UserAgent(userAgent),
		chromedp.WindowSize(1100, 800),
		chromedp.DisableGPU,
		// Nothing beyond this machine: no name but localhost resolves, and
		// the services that call home are off.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter,HttpsUpgrades"),
	)
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser and wait for it, before t.TempDir removes the
		// profile it writes to.
		closeCtx, cancelClose := context.WithTimeout(ctx, 10*time.Second)
		defer cancelClose()
		chromedp.Cancel(closeCtx)
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath(t), err)
	}
	return ctx
}

// step bounds one browser action, so that a page that never loads fails
// the test instead of hanging it.
func step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 20*time.Second)
}

// open loads url and returns the response to it.
func open(t *testing.T, ctx context.Context, url string) *network.Response {
	t.Helper()
	ctx, cancel := step(ctx)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	return resp
}

// click clicks the element sel finds (CSS), waits for the page it leads to,
// and returns the response to it: after a redirect, the last one.
func click(t *testing.T, ctx context.Context, sel string) *network.Response {
	t.Helper()
	ctx, cancel := step(ctx)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
	return resp
}

// text is the text of the page, as a person reads it.
func text(t *testing.T, ctx context.Context) string {
	t.Helper()
	ctx, cancel := step(ctx)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return s
}

// evaluate runs a JavaScript expression on the page and returns its value.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := step(ctx)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// typeInto types s into the field sel finds.
func typeInto(t *testing.T, ctx context.Context, sel, s string) {
	t.Helper()
	ctx, cancel := step(ctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), s)); err != nil {
		t.Fatalf("typing into %s: %v", sel, err)
	}
}

// cookie returns the browser's cookie name for url, or nil.
func cookie(t *testing.T, ctx context.Context, url, name string) *network.Cookie {
	t.Helper()
	ctx, cancel := step(ctx)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatalf("reading the cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// screenshot saves a PNG of the whole page as dir/name when
// SESSIONKIT_TEST_SCREENSHOTS names a directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		return
	}
	ctx, cancel := step(ctx)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/"+name, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
