package wire

import (
	"context"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Keepalive pings a connection every interval; a ping not answered within
// timeout closes the connection, so that its reader fails and its owner
// notices a peer that vanished without closing. It runs no goroutine while
// waiting: a timer starts one ping at a time. The connection must be read
// from, or no pong is seen.
type Keepalive struct {
	c                 *websocket.Conn
	interval, timeout time.Duration
	ctx               context.Context
	cancel            context.CancelFunc

	mu      sync.Mutex
	stopped bool
	t       *time.Timer
	wg      sync.WaitGroup // the ping in progress
}

// StartKeepalive starts pinging c. An interval of 0 or less returns a
// Keepalive that does nothing.
func StartKeepalive(c *websocket.Conn, interval, timeout time.Duration) *Keepalive {
	k := &Keepalive{c: c, interval: interval, timeout: timeout}
	if interval > 0 {
		k.ctx, k.cancel = context.WithCancel(context.Background())
		k.t = time.AfterFunc(interval, k.ping)
	}
	return k
}

func (k *Keepalive) ping() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.wg.Add(1)
	k.mu.Unlock()
	defer k.wg.Done()

	ctx, cancel := context.WithTimeout(k.ctx, k.timeout)
	err := k.c.Ping(ctx)
	cancel()
	if err != nil {
		if k.ctx.Err() == nil { // not stopped: the peer did not answer
			k.c.CloseNow()
		}
		return
	}
	k.mu.Lock()
	if !k.stopped {
		k.t.Reset(k.interval)
	}
	k.mu.Unlock()
}

// Stop stops the pings and waits for one in progress to end.
func (k *Keepalive) Stop() {
	if k.t == nil {
		return
	}
	k.mu.Lock()
	k.stopped = true
	k.t.Stop()
	k.mu.Unlock()
	k.cancel()
	k.wg.Wait()
}
