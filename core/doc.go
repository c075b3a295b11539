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
// three at 10,000 participants, so a one-target command costs about the same
// at 10 participants as at 10,000. A plain map would have to be copied whole
// on every command (0.5 ms and 1.3 MB at 10,000), and a sorted slice the same.
// Join order, which the trie does not keep, is a per-participant counter; the
// few operations that need order (listing, "all" commands, encoding) sort by
// it.
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
