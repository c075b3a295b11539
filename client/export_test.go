package client

import "github.com/gavelrtc/gavel/view"

// ViewOf is the view m keeps of its session, for tests that check it
// against the session (gaveltest.CheckView).
func ViewOf(m *Meeting) view.View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v
}
