// Package core holds gavel's vocabulary: the session state, participants,
// presets and their permissions, commands, and the coded errors every other
// package returns.
//
// # Immutability
//
// A [State] is a value. Every method that "changes" it returns a new State and
// leaves the receiver as it was, so a State can be shared between goroutines,
// kept as a snapshot, or compared with an older one without copying.
//
// Participants live in a persistent hash array mapped trie (HAMT, 32-way,
// keyed by a 64-bit FNV-1a hash of the participant id). Changing one
// participant copies only the nodes on its path: about log32(n) small nodes,
// four at 100,000 participants, so a one-target command costs about the same
// at 10 participants as at 100,000. A plain map would have to be copied whole
// on every command (0.5 ms and 1.3 MB at 10,000), and a sorted slice the same.
// Join order, which the trie does not keep, is a per-participant counter; the
// few operations that need order (listing, encoding) sort by it.
//
// Most of a change's cost is the bytes it copies, and the garbage collector's
// work on them, so nodes are small: a node is a 16-byte header (a bitmap of
// its hash chunks, the audio and video bits of the participants among its
// kids, and the stamp below) and its kids, 16 bytes each: a pointer to the
// participant's unchanging part (id, name, preset, join order), shared by
// every version, or to a sub-node. A node has one of five capacities (2 to 32
// kids), the smallest that fits, so copying it is one allocation.
//
// # Everyone at once, at any size
//
// Turning a medium off for everyone (disable_all_audio) touches no node. A
// State keeps a clock, bumped by each such change, and the clock reading at
// the last one of each medium; a node is stamped with the clock when its
// media bits are written, and the bits of a node stamped before the last
// disable-all of their medium read as off. A node that a later change copies
// anyway is brought up to date on the way. The State also counts the
// participants with audio on and with video on (AudioOn, VideoOn), so that
// deciding a disable-all, like making it, does not grow with the session.
//
// # Building
//
// A [Builder] applies many changes for the price of fewer copies: the nodes
// it made itself, which no State shares yet, it changes in place. Folding a
// log (a session reopened, a snapshot read back) goes through one.
//
// # Errors
//
// Every rejection is an [*Error] with a [Code] from the SPEC's table
// (1201 permission_denied, …). Match with errors.Is against the sentinels
// ([ErrPermissionDenied], …) or errors.As to read the code and message.
//
// Package core imports only the standard library; every other gavel package
// may import it.
package core
