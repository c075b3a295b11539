package session_test

import (
	"testing"

	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
)

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store { return session.NewMemStore() })
}
