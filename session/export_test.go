package session

// Queued returns how many pieces of work wait in s's queue for the holder
// of the decider role, so that a test can wait until its commands are
// queued instead of yielding and hoping.
func Queued(s *Session) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}
