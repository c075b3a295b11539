// Package session is gavel's session runtime: it turns the pure reducer into
// live sessions that a service embeds, that survive a crash, and that the
// transports drive. It is to the reducer what etcd raft's Node is to RawNode.
//
// # API in brief
//
//	s, err := session.Open(ctx, "room-1", store, session.WithPresets(p))
//	res, err := s.Submit(ctx, cmd)       // events with seqs; *core.Error on rejection
//	sub, err := s.Subscribe(ctx, after)  // every event with seq > after, exactly once, in order
//	ev, err := sub.Next(ctx)             // ErrSlowSubscriber when cut off: Subscribe(ctx, last) again
//	st, sub, err := s.Watch(ctx)         // state at seq N and a subscription from N: a consistent pair
//	s.Close(ctx)
//
//	m, err := session.NewManager(store, opts...) // opens sessions on first use, closes idle ones
//	m.Submit(ctx, "room-1", cmd)                 // creates the session if the store lacks it
//	m.Subscribe(ctx, "room-1", after)            // these three: ErrNotFound if it does not exist
//	m.Watch(ctx, "room-1"); m.State(ctx, "room-1")
//	m.Sync(ctx, "room-1")                        // State after reading the log's tail: a read barrier
//	m.Close(ctx)                                 // no goroutine survives it
//
//	type Store interface { Create; Header; Append(expected Position); Records(from seq); Sessions }
//	optional: BatchAppender, Snapshotter, Follower (found by type assertion)
//	NewMemStore(); package filestore (gavel-log/2 files); package storetest (conformance suite)
//
// The store is an argument, never a default: where a session's log lives
// (memory, files, JetStream) is the embedding service's first decision.
// Records, headers and positions are package sessionlog's types.
//
// Options (nats.go style, shared by Open and NewManager): WithPresets,
// WithIdempotencyWindow, WithSubscriberBuffer, WithRecentEvents,
// WithCatchUpBatch, WithSnapshotInterval, WithIdleTimeout, WithClock,
// WithConflictRetries, WithMaxBatch, WithOpenTimeout.
//
// # One decider per session
//
// Each open Session has one decider at a time: whoever holds its decider
// role is the only code that decides commands for it. A Submit that finds
// the session free decides its own command in its own goroutine; one that
// finds it busy queues the command, and the session's owner goroutine takes
// the queue once the holder is done. Either way the deciding is a pure state
// machine (as etcd raft's RawNode) that returns plans as data (what to
// append, the state to install, what to publish, whom to answer), and the
// holder only carries them out, in the plan's order, which is this fixed
// order for every command:
//
//  1. idempotency: a command whose id is in the window is answered with its
//     original outcome and nothing else happens;
//  2. decide: reducer.Decide against the current state, giving events (maybe
//     none) or a rejection;
//  3. append: the command record (command, its at time from the clock, its
//     events or its rejection) is appended to the Store at the expected
//     Position; the call returns only when the store holds it durably. A
//     rejection is appended as an applied command is (SPEC §4);
//  4. only then, in this order: the state advances (not for a rejection),
//     the window remembers the outcome, the events are published to the
//     subscribers, and last the caller is answered.
//
// So an answered command, applied or rejected, is durable, and no
// subscriber ever sees an event the log could lose. A command that is not
// well formed (check 1) is answered invalid_command by Submit before any of
// this: deciding it needs no state, and it is not in the log. Publishing
// comes before answering: when Submit returns,
// every subscriber has the command's events queued already, and a
// subscriber may read them before Submit has returned (a transport that
// both submits and subscribes must expect its command's events before its
// answer, whose Result.Seq tells which events were its command's). A
// caller that has its answer finds the command in State.
//
// The owner takes whatever commands are queued when it is free (up to
// WithMaxBatch) and decides them one after the other on the evolving state;
// a store implementing BatchAppender then writes them with one durable
// write (group commit: concurrent submitters share one fsync), and every
// other store gets one Append per record.
//
// If Append fails with ErrConflict another writer (another gavel instance on
// the same JetStream subject) got there first: the owner reads the records
// after its last Position from the store, folds them, and decides the
// commands again, at most WithConflictRetries times before answering with an
// error that matches ErrConflict. Before it reads, it waits a random moment
// that grows with the conflicts in a row (under 0.5 ms times their number,
// at most 5 ms): the writer that won is likely in the middle of a batch,
// which a store without BatchAppender appends one record at a time, and
// what it appends meanwhile reaches the owner through the follow stream
// (below), whose deliveries the read takes before it asks the store.
// Because a rejection is appended too, this also holds for a batch that
// was all rejections: a rejection decided on a state another writer has
// moved past conflicts, and is decided again. And
// when two writers decide the same command id (a client's retry through
// another instance), the second finds the first's record when it reads the
// tail, and answers with that outcome: one outcome per command id. Any other append error leaves the owner
// unsure of what the store holds, so it is answered to the callers and the
// owner reloads the tail from the store before it decides anything else; a
// retry of the same command id is then answered from the window if the record
// had landed.
//
// # Several writers: following the log
//
// A store shared by several writers (gavel instances on one JetStream
// stream, behind a load balancer: a session's participants land on any of
// them) implements Follower, and a session on it follows its log. A
// goroutine beside the owner reads the store's follow stream from the
// session's position; each record another writer appended is taken by the
// decider as its own are: checked as on open (its events continue the seq,
// no gap), then the state, the window and the subscribers, in log order,
// interleaved with the session's own appends, which the stream delivers too
// and the decider skips by position. So State, Watch, Subscribe (and the
// websocket clients and media routers built on them) on every instance see
// every instance's commands as soon as the store delivers them, without
// submitting anything.
//
// When the follow stream fails (a connection lost beyond what the store
// could resume), the session marks itself stale: before its next decision
// it reads the store, and it follows again from its position. It never
// decides on a state it knows may be behind. A decision on a state another
// writer has just moved past (its record not yet delivered) conflicts at
// the append and is decided again, as above: following makes the states
// current, the expected position keeps the log whole. A store with one
// writer (memory, files) needs no Follower.
//
// Several deciders are correct, not fast: their batches exclude one
// another. A Manager given a Router (WithRouter) sends each command to the
// instance the Router names, the session's home, so that one instance
// decides a session's commands, as when it runs alone; it decides a
// command itself only when the Router says so (the home is this instance,
// or gave no outcome). Manager.Decide is the receiving end.
//
// A caller that must not decide on a state that lags the log even by the
// follow stream's few milliseconds (admitting a participant's media right
// after a kick on another instance) calls Sync, a read barrier: the
// decider reads the log's tail from the store first, so every record any
// writer had stored when Sync was called is in the state it returns.
//
// # Errors
//
// Submit returns a *core.Error (unwrapped, so errors.As and core.CodeOf see
// it) when the reducer rejected the command, and never otherwise: every other
// error is an infrastructure error, of one of two kinds, told apart with
// errors.Is(err, ErrPermanent):
//
//   - transient (ErrClosed, a context error, a store error, ErrConflict
//     after the retries): the command may or may not have been decided;
//     submit it again with the same id to learn its outcome. A store that
//     is down fails rejections too: a rejection is an outcome only once it
//     is in the log;
//   - permanent: the store can never hold the command's record
//     (ErrTooLarge). Nothing was applied, the command failed alone and at
//     once, the session goes on, and submitting it again fails the same
//     way.
//
// # Idempotency
//
// The owner remembers the outcome of the last WithIdempotencyWindow records
// of the log (default 10,000), applied and rejected commands alike. A
// command whose id is remembered is answered with the original outcome
// (Result.Duplicate set; for a rejection, the same error), even if the new
// command differs from the first; it is not decided again. The window holds
// what the log holds: on open it is rebuilt from the log's last records,
// and on a conflict it takes in another writer's records with the state, so
// a command has one outcome across restarts and instances (a command that
// would now be applied stays rejected). A command id beyond the window is
// decided anew.
//
// # Subscriptions
//
// Subscribe(ctx, after) delivers every event with seq > after, exactly once
// and in order, through Next. The owner never blocks on a subscriber: it
// queues each command's events on every subscription, as the one slice it
// already holds (no copy, no event at a time), and the reader takes them
// from there. The queue of a subscription starts empty and grows as commands
// wait in it, so an idle subscription costs a few hundred bytes whatever the
// buffer.
//
// The queue is bounded in events, with n = WithSubscriberBuffer (default
// 1,024). The command at its head is the one the subscriber is reading (the
// oldest it has not finished); the buffer is the events of the commands
// behind it. When a command's events are published to a subscriber they
//
//   - are queued if the buffer is empty (nothing waits, or only the command
//     being read), however many they are;
//   - else are queued if the buffer's events plus theirs are at most n;
//   - else the subscriber is cut off.
//
// So one command never cuts off a subscriber that has read everything
// before it, whatever its number of events (at most two with gavel's
// reducer: a bulk command is one event), and commands that follow it while
// it is being read are queued up to n events. A subscriber that
// stops reading holds the command it was at plus at most n events, or plus
// one command larger than n, and is cut off at the next command that does
// not fit.
//
// A subscriber that is cut off gets, from Next, the events it still holds
// and then ErrSlowSubscriber. It resumes with Subscribe(ctx, sub.Seq()):
// events older than what the owner keeps in memory (its last
// WithRecentEvents events) are read from the store, WithCatchUpBatch at a
// time, by the subscriber's own Next calls, never by the owner. Watch returns a state and a subscription that starts
// right after that state's seq: what a transport needs for a welcome frame.
//
// The events a subscriber gets are the ones Submit answers with and the
// window keeps: shared, to be read and never modified. A transport whose
// answer carries its command's events may Hold its subscription while it
// submits and answers: the reader is woken at Release, off the answer's
// path.
//
// # Snapshots
//
// With a Store that implements Snapshotter, a Snapshot is saved every
// WithSnapshotInterval events, beside the decider: a goroutine of the
// session's saves the latest state it was handed, so a slow save delays no
// command (one due while another is being saved replaces any not started). Open loads the latest snapshot, folds only the
// records after it, and reads back far enough to rebuild the idempotency
// window. A snapshot is an optimisation: without one, Open folds the whole log
// and reaches the same state.
//
// # Time
//
// The at time of a record comes from the clock (WithClock, default
// time.Now), read by the owner once for each batch of commands it takes,
// never by the reducer. Idle sessions are
// measured on the same clock.
//
// Package session imports core, events, reducer, sessionlog and the standard
// library.
package session
