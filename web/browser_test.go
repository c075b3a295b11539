package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/internal/gavelserver"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/transport/ws"
)

// The Chromium tests drive Debian's chromium, headless, with a fake camera
// and microphone, against cmd/gavel's server. They skip when no Chromium
// is found, unless GAVEL_BROWSER=1 (CI), and under -short.

// waitLimit bounds every wait of these tests. Reaching it fails the test;
// nothing passes or fails on how fast things happen within it.
const waitLimit = 20 * time.Second

var browser struct {
	once   sync.Once
	ctx    context.Context // the browser's: tabs are made from it
	cancel context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// chromium finds the browser, or skips the test (fails it with
// GAVEL_BROWSER=1).
func chromium(t testing.TB) string {
	t.Helper()
	return tool(t, "chromium", "apt-get install -y chromium", "GAVEL_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
}

// tool finds a program the browser tests need: the one env names, else
// the first of names on the PATH. Without it the test is skipped, or
// fails with GAVEL_BROWSER=1 (CI installs them).
func tool(t testing.TB, what, install, env string, names ...string) string {
	t.Helper()
	for _, name := range append([]string{os.Getenv(env)}, names...) {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GAVEL_BROWSER") == "1" {
		t.Fatalf("GAVEL_BROWSER=1 but no %s found (%s, or set %s)", what, install, env)
	}
	t.Skipf("no %s found: set GAVEL_BROWSER=1 to make this a failure", what)
	return ""
}

// startBrowser starts the one browser of the test binary (each page is a tab
// of it) and returns its context.
func startBrowser(t testing.TB) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("Chromium tests are slow: skipped under -short")
	}
	path := chromium(t)
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "gavel-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.UserDataDir(dir),
			chromedp.Flag("headless", true),
			chromedp.Flag("no-sandbox", true),
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("no-first-run", true),
			chromedp.Flag("no-default-browser-check", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("use-fake-ui-for-media-stream", true),
			chromedp.Flag("use-fake-device-for-media-stream", true),
			chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
			// Pages in background tabs keep their timers and media running.
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil { // starts the browser
			bcancel()
			acancel()
			os.RemoveAll(dir)
			browser.err = err
			return
		}
		browser.ctx = bctx
		browser.cancel = func() {
			bcancel()
			acancel()
			os.RemoveAll(dir)
		}
	})
	if browser.err != nil {
		t.Fatalf("starting chromium: %v", browser.err)
	}
	return browser.ctx
}

// env is a gavel server with the test's routes around its handler, and
// the browser.
type env struct {
	t       testing.TB
	browser context.Context
	srv     *gavelserver.Server
	http    *httptest.Server
	mux     *http.ServeMux // the test's routes around the server's
	room    string
}

func newEnv(t testing.TB) *env { return newEnvWith(t, gavelserver.Config{}) }

// newEnvWith is newEnv with cfg's fields beyond the listener, the data
// directory and the dev endpoint.
func newEnvWith(t testing.TB, cfg gavelserver.Config) *env {
	t.Helper()
	bctx := startBrowser(t)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cfg.Listen, cfg.DataDir, cfg.Dev = "127.0.0.1:0", t.TempDir(), true
	srv, err := gavelserver.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.Handle("GET /test/", http.StripPrefix("/test/", http.FileServer(http.Dir("testdata"))))
	mux.HandleFunc("GET /test/echo", echo)
	e := &env{t: t, browser: bctx, srv: srv, http: httptest.NewServer(mux), mux: mux, room: strings.ReplaceAll(t.Name(), "/", "-")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		// The pages close first (their tabs, see open): the server says
		// goodbye to nobody.
		if err := srv.Close(ctx); err != nil {
			t.Errorf("closing the server: %v", err)
		}
		e.http.Close()
	})
	return e
}

// echo is the baseline of the command round trip: a plain websocket that
// sends back every message.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, b, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if c.Write(r.Context(), typ, b) != nil {
			return
		}
	}
}

// token mints a token for participant id of the env's room.
func (e *env) token(id, preset string) string {
	e.t.Helper()
	tok, err := ws.MintToken(e.srv.Secret(), ws.Token{Session: e.room, Participant: id, Preset: preset, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// page is one tab.
type page struct {
	t    testing.TB
	name string
	ctx  context.Context
}

// open opens a tab at path of the env's server.
func (e *env) open(name, path string) *page {
	e.t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser)
	p := &page{t: e.t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		e.t.Fatalf("%s: opening a tab: %v", name, err)
	}
	logged := make(chan struct{})
	go func() { // the page's console and errors, in the test's log
		defer close(logged)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if !strings.Contains(m.Text, "/blocked?") { // a held reconnection (h.block)
				e.t.Logf("%s console %s: %s", name, m.Type, m.Text)
			}
		}
	}()
	e.t.Cleanup(func() {
		cancel() // closes the tab
		testwait.Recv(e.t, logged, "the tab's console to end")
	})
	p.do(chromedp.Navigate(e.http.URL + path))
	return p
}

// harness opens the test harness page.
func (e *env) harness(name string) *page {
	p := e.open(name, "/test/harness.html")
	p.wait("the harness", `window.harnessReady === true`)
	return p
}

func (p *page) do(a chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Run(ctx, a); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// eval evaluates expr (awaiting a promise) and decodes its value into T.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, expr, err)
	}
	return v
}

// run evaluates expr for its effect.
func (p *page) run(expr string) {
	p.t.Helper()
	eval[chromedp.Void](p, expr)
}

// wait polls expr until it is truthy, and fails the test after waitLimit.
func (p *page) wait(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitLimit+time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(waitLimit))); err != nil {
		p.t.Fatalf("%s: still waiting after %v for %s: %v", p.name, waitLimit, what, err)
	}
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// join starts the harness's meeting for id with preset, and returns once
// self has joined.
func (e *env) join(p *page, id, preset string, audio, video bool) {
	e.t.Helper()
	e.joinAt(p, id, preset, audio, video, "")
}

// joinAt is join through the websocket server at url ("": the page's).
func (e *env) joinAt(p *page, id, preset string, audio, video bool, url string) {
	e.t.Helper()
	at := "undefined"
	if url != "" {
		at = js(url)
	}
	got := eval[string](p, fmt.Sprintf(`h.start(%s, {name: %s, audio: %v, video: %v, url: %s})`, js(e.token(id, preset)),
		js(strings.ToUpper(id[:1])+id[1:]), audio, video, at))
	if got != id {
		e.t.Fatalf("%s joined as %q, want %q", p.name, got, id)
	}
}

// note is one recorded notification.
type note struct {
	On, Event, ID, Extra, By string
	Seq                      uint64
}

func (n note) String() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s %s by=%s", n.On, n.Event, n.ID, n.Extra, n.By))
}

// notes returns the page's notifications from index from on.
func (p *page) notes(from int) []note {
	p.t.Helper()
	return eval[[]note](p, fmt.Sprintf(`h.log.slice(%d)`, from))
}

// count is how many notifications the page has recorded.
func (p *page) count() int { return eval[int](p, `h.log.length`) }
