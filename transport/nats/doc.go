// Package nats runs gavel sessions over NATS: a JetStream stream is the
// durable, replicated log of every session (a session.Store), any number of
// gavel instances answer commands on request/reply subjects, and trusted
// services submit commands and follow sessions with a Client. A Node joins
// a NATS server or cluster (WithURL), or runs on an in-process nats-server
// with JetStream (package natsserver, WithEmbeddedServer), so one binary is
// a complete deployment. The embedded server is a package of its own so
// that a service that only needs the Client does not link nats-server.
//
// # API in brief
//
//	srv, err := natsserver.Start(ctx, natsserver.WithDataDir("data"))
//	n, err := nats.Start(ctx, nats.WithEmbeddedServer(srv), nats.WithSessionOptions(session.WithPresets(p)))
//	n, err := nats.Start(ctx, nats.WithURL("nats://a:4222,nats://b:4222"), nats.WithReplicas(3))
//	res, err := n.Client().Submit(ctx, "room-1", cmd)   // events, or the *core.Error
//	sub, err := n.Client().Subscribe(ctx, "room-1", 0)  // every event with seq > 0, in order
//	ev, err := sub.Next(ctx)
//	n.Close(ctx)
//
// The parts: NewStore (the session.Store), NewService (serves a
// session.Manager on the command subjects), NewClient. Each takes options
// of its own kind, so an option given where it means nothing does not
// compile; Start takes every kind and hands each to its part:
//
//	StoreOption    WithReplicas, WithMemoryStorage, WithDuplicateWindow
//	ServiceOption  WithQueue, WithMaxCommand, WithConcurrency
//	ClientOption   WithRequestTimeout, WithSubmitTimeout
//	StreamOption   (store and client) WithStream, WithStoreTimeout
//	SubjectOption  (store, service and client) WithPrefix
//	NodeOption     (Start only) WithURL, WithEmbeddedServer, WithNATSOptions, WithSessionOptions
//
// # Subjects and the log
//
// Session ids become single subject tokens (SessionToken: [A-Za-z0-9_-] as
// they are, every other byte %XX, one to one). Under the prefix (default
// gavel):
//
//	gavel.cmd.<session>   commands, request/reply, one queue group
//	gavel.log.<session>   the session's command records, applied and rejected, in stream GAVEL
//	gavel.head.<session>  the session's header, in stream GAVEL
//
// and the latest snapshot of each session is an object of the JetStream
// object store GAVEL_SNAP (its stream is OBJ_GAVEL_SNAP).
//
// A record message is the gavel-log/2 record line, written with
// sessionlog.AppendRecord, so the messages of head and log subjects in
// stream order are the session's gavel-log/2 file: Client.ReadLog reads it
// so, and `replay -verify nats://host:port/<session>` checks a live session
// with it. Its headers: Nats-Msg-Id
// (<session token>/<escaped command id>: the server's duplicate check is
// stream wide), Nats-Expected-Last-Subject-Sequence, Gavel-Seq (the
// session's seq after the record, which lets Records and Subscribe find
// where to start by a search over a few messages instead of reading the log
// from the beginning) and Gavel-Writer (an id of the Append call). A
// sessionlog.Position is the record's stream sequence. A snapshot (the runtime
// saves one every WithSnapshotInterval events) is the SPEC's state JSON with
// its position and window start in headers; only the latest is kept.
//
// # Instances never fork a session
//
// Every append carries the expected last sequence of the session's subject,
// so of two instances appending after the same record, the server stores
// one and refuses the other (10071, or 10164 from a replicated stream while
// the winner's write is in flight; the codes decide, not error strings):
// that is session.ErrConflict, and the loser's runtime reads the new
// records, decides again and retries. When the outcome of a publish is
// unknown (a timeout, a stream leader election), Append sends the same
// message again; a duplicate acknowledgement or a wrong sequence is then
// resolved by looking at the record after the expected one: if its
// Gavel-Writer is this Append's, the first attempt landed. Nothing else
// counts as success, so a command another instance stored first is a
// conflict, which the runtime answers from its idempotency window. A
// rejection is a record too: an instance that rejected a command on a state
// the other had moved past conflicts as well, and decides again, so a
// command has one outcome whichever instances its attempts reach
// (TestHistoryLinearizable checks this with porcupine).
//
// # Group commit
//
// The runtime decides the commands queued while it appended as one batch
// and hands their records to Store.AppendBatch (session.BatchAppender),
// which publishes them as one JetStream atomic batch (nats-server 2.12 and
// later; NewStore turns the stream's AllowAtomicPublish on, for a stream
// created before too): the records are stored at consecutive stream
// sequences, all or none, in one round trip and one write of the stream's
// Raft group, with the expected last sequence on the batch's first message.
// One instance's batch then holds the log for one round trip instead of one
// per record, and another instance's conflicting batch costs it one round
// trip. A server that takes no atomic batches (older than 2.12: its stream
// reports AllowAtomicPublish off) or refuses one as a whole (more than
// max_batch_size records, a record over max_payload, a reused command id)
// stores nothing, and the runtime appends the records one at a time, each
// with its own outcome.
//
// modernice/goes deprecated its JetStream event store (backend/natsjs); its
// code shows what to avoid, and this store does: appends without an expected sequence (here every
// append has one); a second, non-atomic write to a KV index (here one
// message per record holds the command and all its events, and the header
// is created with an expected sequence of 0); several messages per command
// (partial writes); a duplicate acknowledgement treated as a failure, so a
// retry fails (here it is resolved as above); subject escaping that maps
// different ids to one subject (here it is one to one); streams created on
// the fly per type (here one stream, created by NewStore); reads that stop
// when a batch comes back short (here reads stop at the subject's last
// sequence, taken when reading starts).
//
// # Storage and durability
//
// The stream uses file storage (WithMemoryStorage for tests). The embedded
// server keeps nats-server's default sync: a write reaches the operating
// system before it is acknowledged, so an acknowledged command survives a
// crash of the process (kill -9), and the files are fsynced every two
// minutes; a power loss can lose the last acknowledged commands. fsync on
// every write (natsserver.WithSyncAlways) costs about 9× per append here
// (~227 µs against ~26 µs). A deployment that must survive the loss of a machine
// runs a three-node cluster with WithReplicas(3): an acknowledgement then
// means a majority of servers hold the record.
//
// One command is one message. A record is small whatever the size of the
// session (a bulk command is one event), so nats-server's default
// max_payload of 1 MiB is plenty; a server configured far below that may
// refuse a record, and Append then fails at once with session.ErrTooLarge
// (permanent: the command fails alone, the session goes on, and the client
// does not retry it). A snapshot is cut into chunks that fit whatever
// max_payload is, so it has no size limit.
//
// # Replies
//
// The command service answers each request with one JSON object. Events
// and errors are in the events codec's form; the envelope is:
//
//	{"seq":4,"at":"2026-03-01T10:00:00Z","events":[…]}     applied; events may be []
//	{"seq":4,"at":"…","duplicate":true,"events":[…]}       the id was applied before: its outcome
//	{"error":{"code":1201,"name":"permission_denied","message":"…"}}   rejected
//	{"failure":"…"}                                        not applied now; send again, same id
//	{"failure":"…","permanent":"too_large"}                not applied, and never will be
//
// A failure is transient unless it says "permanent", with its cause:
// "too_large" when the store can never hold the command's record (the
// client's error then matches session.ErrTooLarge), or another cause
// (session.ErrPermanent). Client.Submit resends a transient failure by
// itself and returns a permanent one at once.
// A request that is not a command (not JSON, unknown type, a field of the
// wrong type, larger than WithMaxCommand, a subject that is not
// <prefix>.cmd.<session token>) is answered with invalid_command (1210)
// before it reaches the runtime: it creates no session and appends nothing.
// A command published without a reply subject is not served.
//
// # Following sessions
//
// Any instance serves any participant: a session's clients may be spread
// over every instance of a cluster. The Store is a session.Follower: each
// instance's runtime of a session follows the session's log subject with an
// ordered consumer from its last position, so another instance's command
// reaches its state, idempotency window and subscribers (Manager().Subscribe
// and Watch, the websocket clients and media routers on that instance) as
// soon as it is stored, in log order, with no gap and none twice, the
// instance submitting nothing. The consumer is created again from the last
// position after a disconnect or a server restart; while it cannot be, the
// runtime reads the log before each decision instead of deciding on a state
// that may be behind. Tested across instances on one server, through server
// restarts, and on a three-node cluster losing a server
// (TestFollowAcrossInstances, TestFollowServerRestart, TestClusterFollow;
// transport/ws/wsmedia's TestMediaFollowsOtherInstances for a mute decided on
// another instance).
//
// Client.Subscribe reads the stream itself the same way: a service that is
// not a gavel instance follows a session with it, and resumes from any seq.
//
// # One decider per session
//
// Following makes every instance's state current; it does not make their
// decisions share a batch. Instances that each decide the commands they
// are given append with expected sequences: correct (the loser of a
// conflict reads and decides again), but a session's commands spread over
// three instances then need several times the appends, plus the conflicts.
// So instances that name themselves (Start's WithRouting; NewRouter and
// the service's WithNode) route each command to the session's home, the
// instance a home function shared by all names (cmd/gavel uses the media
// relay's rendezvous choice over the live nodes, so the node that routes
// a session's media decides its commands), on <prefix>.decide.<home>.<session>,
// over a connection of the Router's own to the home's server (so that
// the command and its answer cross no route between servers). The home
// decides it (session.Manager.Decide: never routed again) with the rest
// of the session's commands, one group commit. The services' answers name
// the home, and a Client WithDirectToHome sends there itself. When the home
// gives no outcome (it is gone, silent for WithForwardTimeout, or failing
// for a passing reason) the instance decides itself; when two instances
// each take themselves for the home for a moment, both decide. Neither
// costs correctness: the expected sequences and the idempotency window
// still give each command one outcome. Tested with the home killed before
// and after it stored a routed command (internal/clustertest's
// TestKilledMidCommand) and under porcupine (TestLinearizable).
//
// # Trust
//
// The NATS transport is for trusted services. Whoever may publish on
// gavel.cmd.<session> may submit any command as any actor: the command
// names its actor and nothing checks it (so may whoever may publish on
// gavel.decide.>, where instances route commands to one another). Whoever
// may publish on gavel.log.*, gavel.head.* or $O.GAVEL_SNAP.> writes the
// log directly. So untrusted clients (browsers,
// participants' apps) never get NATS credentials: they come in through the
// websocket transport, which authenticates them and sets the actor. On
// NATS, only gavel instances may write the log and take commands, and
// trusted services may submit and read. The configuration that enforces it
// (with JetStream enabled; testdata/permissions.conf, run by
// TestPermissions):
//
//	authorization {
//	  users = [
//	    {
//	      user: gavel, password: $GAVEL_PASSWORD
//	      permissions: {
//	        publish: { allow: ["gavel.log.*", "gavel.head.*", "gavel.decide.>", "$O.GAVEL_SNAP.>", "$JS.API.>"] }
//	        subscribe: { allow: ["gavel.cmd.>", "gavel.decide.>", "_INBOX.>"] }
//	        allow_responses: true
//	      }
//	    }
//	    {
//	      user: service, password: $SERVICE_PASSWORD
//	      permissions: {
//	        publish: {
//	          allow: [
//	            "gavel.cmd.*",
//	            "$JS.API.STREAM.INFO.GAVEL",
//	            "$JS.API.STREAM.MSG.GET.GAVEL",
//	            "$JS.API.CONSUMER.CREATE.GAVEL.>",
//	            "$JS.API.CONSUMER.INFO.GAVEL.>",
//	            "$JS.API.CONSUMER.MSG.NEXT.GAVEL.>",
//	            "$JS.API.CONSUMER.DELETE.GAVEL.>"
//	          ]
//	        }
//	        subscribe: { allow: ["_INBOX.>"] }
//	      }
//	    }
//	  ]
//	}
//
// A service that may only act on some sessions gets gavel.cmd.<token> for
// those (SessionToken gives the token). A service whose Client sends to
// the sessions' homes itself (WithDirectToHome) also needs
// gavel.decide.*.* (or gavel.decide.*.<token>): without it, every command
// sent to a home is refused, and goes through gavel.cmd only after its
// WithRequestTimeout. The embedded server listens on
// 127.0.0.1 only and has no users: every process on the machine can reach
// it, so run it where those are trusted.
//
// Package nats imports core, events, internal/jsonscan, reducer, sessionlog
// and session, and github.com/nats-io/nats.go; not nats-server (TestClientLinksNoServer).
package nats
