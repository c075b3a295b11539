package gaveltest

import "pgregory.net/rapid"

// A chooser makes the choices a generator is written in: each picks one of
// a fixed list of options. Writing every generator against it, rather than
// against *rapid.T, lets the same code draw from rapid (which shrinks) and
// decode a native fuzz target's bytes (SessionFromBytes).
type chooser interface {
	// choose draws an index into options and moves it on, cyclically, to
	// the first i for which ok(i) holds (any i if ok is nil). It returns
	// -1, having drawn, if ok holds for none.
	choose(label string, options []string, ok func(int) bool) int
	// exhausted reports whether a choice has been made past the end of
	// the input, so that what it chose is no part of the session.
	exhausted() bool
}

// resolve moves i on to the first index at or after it, cyclically, for
// which ok holds: with options fixed, the same drawn index names the same
// option whenever that option is allowed, which keeps ids stable while a
// failure shrinks.
func resolve(i, n int, ok func(int) bool) int {
	if ok == nil {
		return i
	}
	for k := range n {
		if j := (i + k) % n; ok(j) {
			return j
		}
	}
	return -1
}

// rapidChooser draws from rapid: one labelled IntRange per choice, so a
// choice shrinks towards the first option.
type rapidChooser struct{ t *rapid.T }

func (rapidChooser) exhausted() bool { return false }

func (c rapidChooser) choose(label string, options []string, ok func(int) bool) int {
	return resolve(rapid.IntRange(0, len(options)-1).Draw(c.t, label), len(options), ok)
}

// byteChooser decodes bytes: one byte per choice, modulo the number of
// options. Past the end it chooses 0 and records that it ran out.
type byteChooser struct {
	data []byte
	out  bool
}

func (c *byteChooser) exhausted() bool { return c.out }

func (c *byteChooser) choose(_ string, options []string, ok func(int) bool) int {
	b := 0
	if len(c.data) > 0 {
		b, c.data = int(c.data[0]), c.data[1:]
	} else {
		c.out = true
	}
	return resolve(b%len(options), len(options), ok)
}

// flag chooses between off (the first, where a shrink goes) and on.
func flag(ch chooser, label string) bool {
	return ch.choose(label, offOn, nil) == 1
}

var offOn = []string{"off", "on"}

// pickString chooses one of options for which ok holds ("" if none).
func pickString(ch chooser, label string, options []string, ok func(string) bool) string {
	var f func(int) bool
	if ok != nil {
		f = func(i int) bool { return ok(options[i]) }
	}
	if i := ch.choose(label, options, f); i >= 0 {
		return options[i]
	}
	return ""
}
