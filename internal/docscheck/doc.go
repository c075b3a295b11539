// Package docscheck keeps gavel's documentation honest: its test reads every
// JSON example of docs/*.md and checks it against the events codec and the
// reducer, so an example that the code would not produce or accept fails
// the build.
//
// A JSON example is a fenced block whose info string is "json" or "jsonl"
// followed by a kind that says what the block holds, one value a line:
//
//	event, command, error, state, presets, header, record
//	    each line decodes, and encodes back to exactly the same bytes
//	    (records: decode only, as their "at" and spacing are free);
//	invalid-command
//	    each line is a command the decoder or check 1 rejects with
//	    invalid_command;
//	invalid-record
//	    each line is a record line that makes a log invalid;
//	script
//	    a session log whose records ask for commands to be run;
//	log
//	    a recorded session log: the reducer, run over it, produces every
//	    line byte for byte, as replay -json would print it.
//
// In the documents this package owns (behaviour.md, errors.md, events.md,
// log-format.md) every json and jsonl block must name its kind; other
// documents in docs/ opt in block by block.
//
// The test also runs the replay command on the documented logs: each
// recorded log passes replay -verify, and a script directly followed by a
// log turns into that log under replay -json.
//
// Package docscheck is internal and holds nothing but that test. It imports
// core, events, reducer and sessionlog.
package docscheck
