package testwait

import (
	"testing"
	"time"
)

func TestContextHasADeadline(t *testing.T) {
	d, ok := Context(t).Deadline()
	if !ok || time.Until(d) > Limit {
		t.Errorf("deadline %v (set %v), want at most %v from now", d, ok, Limit)
	}
}

func TestRecv(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Recv(t, ch, "seven"); got != 7 {
		t.Errorf("Recv = %d, want 7", got)
	}
}
