package client

import (
	"slices"
	"sync"
)

// handlers is a list of handlers of one event on one object. Handlers are
// called on the meeting's handler goroutine; adding and removing them is
// safe from any goroutine, handlers included.
type handlers[F any] struct {
	mu   sync.Mutex
	next int
	list []handler[F]
}

type handler[F any] struct {
	id int
	f  F
}

// add appends f and returns the function that removes it.
func (h *handlers[F]) add(f F) (off func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	id := h.next
	h.list = append(h.list, handler[F]{id, f})
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i := range h.list {
			if h.list[i].id == id {
				// A new slice: a dispatch iterating the old one is unaffected.
				h.list = append(h.list[:i:i], h.list[i+1:]...)
				return
			}
		}
	}
}

// bind returns a function that calls call with every handler there is
// now, in the order they were added, or nil when there is none: an event
// nobody listens to costs no handler call.
func bind[F any](h *handlers[F], call func(F)) func() {
	h.mu.Lock()
	list := h.list // never written in place: add appends, off copies
	h.mu.Unlock()
	if len(list) == 0 {
		return nil
	}
	return func() {
		for _, x := range list {
			call(x.f)
		}
	}
}

// dispatcher runs queued handler calls, one at a time, in order, on its own
// goroutine. The queue is unbounded: the connection's reader never waits
// for a handler, so a handler may call the meeting and wait for a result.
type dispatcher struct {
	mu     sync.Mutex
	queue  []func()
	ending bool // run what is queued, then stop
	abort  bool // stop after the call running now
	wake   chan struct{}
	done   chan struct{}
}

func newDispatcher() *dispatcher {
	d := &dispatcher{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *dispatcher) push(fs ...func()) {
	fs = slices.DeleteFunc(fs, func(f func()) bool { return f == nil })
	if len(fs) == 0 {
		return
	}
	d.mu.Lock()
	if !d.ending && !d.abort {
		d.queue = append(d.queue, fs...)
	}
	d.mu.Unlock()
	d.signal()
}

func (d *dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// end stops the dispatcher once the queue is empty; with abort, after the
// call running now, dropping the rest.
func (d *dispatcher) end(abort bool) {
	d.mu.Lock()
	d.ending = true
	d.abort = d.abort || abort
	d.mu.Unlock()
	d.signal()
}

func (d *dispatcher) run() {
	defer close(d.done)
	var batch []func()
	for {
		d.mu.Lock()
		if d.abort {
			d.mu.Unlock()
			return
		}
		batch, d.queue = d.queue, batch[:0]
		ending := d.ending
		d.mu.Unlock()
		if len(batch) == 0 {
			if ending {
				return
			}
			<-d.wake
			continue
		}
		for i, f := range batch {
			if i > 0 && d.aborted() {
				return
			}
			f()
			batch[i] = nil
		}
	}
}

func (d *dispatcher) aborted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.abort
}
