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
// Participants live in a persistent hash array mapped trie (HAMT, 16-way,
// keyed by a 64-bit FNV-1a hash of the participant id). Changing one
// participant copies only the nodes on its path: about log16(n) small nodes,
// five at 100,000 participants, so a one-target command costs about the same
// at 10 participants as at 100,000 (within a few times: see BENCHMARKS.md). A
// plain map would have to be copied whole on every command (0.5 ms and 1.3
// MB at 10,000), and a sorted slice the same. Join order, which the trie does
// not keep, is a per-participant counter; the few operations that need order
// (listing, encoding) sort by it.
//
// Most of a change's cost is the bytes and pointers it copies, and the
// garbage collector's work on them, so nodes are small: a node is a 16-byte
// header (bitmaps of its hash chunks and of which kids are participants, the
// audio and video bits of those participants, the stamp below, its size
// class) and its kids, one word each: a pointer to the participant's
// unchanging part (id, name, preset, join order), shared by every version, or
// to a sub-node. A kid is an unsafe.Pointer that the header types (see
// trie.go for the rules this keeps): with an interface, two words, a change
// at 100,000 copied twice the bytes. A node has one of four capacities (2
// to 16 kids), the smallest that fits, so copying it is one allocation: at
// 100,000 participants a media change or a kick copies about 600 bytes. A
// 16-way trie copies fewer bytes per change than a 32-way one (five nodes of
// up to 144 bytes against four of up to 288), and is as fast to build.
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
