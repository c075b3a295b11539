package web_test

import (
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// meetingPage opens the meeting page, which joins by itself (#join=1) with
// a token from /dev/token.
func (e *env) meetingPage(name, preset string) *page {
	e.t.Helper()
	q := url.Values{"room": {e.room}, "name": {name}, "preset": {preset}, "join": {"1"}}
	p := e.open(name, "/#"+q.Encode())
	p.wait(name+" in the room", `!document.querySelector("#room").hidden`)
	return p
}

// tileJS is the expression of name's tile on the page.
func tileJS(name string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(".tile")].find(t => t.querySelector(".name").textContent.startsWith(%s))`, js(name))
}

func (p *page) click(name, act string) {
	p.t.Helper()
	p.run(fmt.Sprintf(`%s.querySelector('[data-act=%q]').click()`, tileJS(name), act))
}

func (p *page) toast(text string) {
	p.t.Helper()
	p.wait("the notice "+text, fmt.Sprintf(`[...document.querySelectorAll(".toast")].some(t => t.textContent === %s)`, js(text)))
}

// screenshot saves the page when GAVEL_SCREENSHOTS names a directory.
func (p *page) screenshot(name string) {
	dir := os.Getenv("GAVEL_SCREENSHOTS")
	if dir == "" {
		return
	}
	p.t.Helper()
	p.do(chromedp.EmulateViewport(1280, 800))
	b := eval[[]byte](p, `1`) // keeps the tab busy until the viewport applies
	_ = b
	ctxShot := p.ctx
	png, err := chromedp.Run(ctxShot, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Errorf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(dir+"/"+name+".png", png, 0o644); err != nil {
		p.t.Error(err)
	}
}

// TestMeetingPage: the page a person uses. The host sees the attendee's
// tile with its controls, the attendee sees none; a mute shows "muted by"
// on the attendee's page, a pin puts the attendee on everyone's stage, and
// a kick shows the attendee the removed screen.
func TestMeetingPage(t *testing.T) {
	e := newEnv(t)
	hana := e.meetingPage("Hana", "host")
	alice := e.meetingPage("Alice", "attendee")
	for _, p := range []*page{hana, alice} {
		p.wait("two tiles", `document.querySelectorAll(".tile").length === 2`)
		p.wait("the other's video playing", `[...document.querySelectorAll(".tile video")].filter(v => v.readyState >= 2).length === 2`)
	}
	if !eval[bool](alice, `document.querySelector("#host-controls").hidden && [...document.querySelectorAll(".tile [data-act]")].every(b => b.hidden)`) {
		t.Error("the attendee's page shows host controls")
	}
	if !eval[bool](hana, tileJS("Alice")+`.querySelector('[data-act="kick"]').hidden === false`) {
		t.Error("the host's page hides the controls on the attendee's tile")
	}
	hana.screenshot("host")

	hana.click("Alice", "disableAudio")
	alice.toast("Hana muted you")
	alice.wait("the mic shown off", `document.querySelector("#mic").classList.contains("off")`)
	hana.wait("alice's tile muted", tileJS("Alice")+`.classList.contains("muted")`)

	hana.click("Alice", "pin")
	for _, p := range []*page{hana, alice} {
		p.wait("alice on the stage", `document.querySelector("#stage .tile .name")?.textContent.startsWith("Alice")`)
	}
	alice.toast("Hana pinned you")
	alice.screenshot("attendee")

	hana.click("Alice", "kick")
	alice.wait("the removed screen", `!document.querySelector("#ended").hidden`)
	if got := eval[string](alice, `document.querySelector("#ended-text").textContent`); got != "Hana removed you from the meeting." {
		t.Errorf("removed screen says %q", got)
	}
	hana.toast("Alice was removed by You")
	hana.wait("one tile left", `document.querySelectorAll(".tile").length === 1`)
}
