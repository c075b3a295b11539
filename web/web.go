// Package web is gavel's browser side, embedded for cmd/gavel to serve:
//
//   - gavel.js: the SDK, RealtimeKit's web-core meeting object over the
//     websocket protocol of docs/ws-protocol.md; one dependency-free ES
//     module (no bundler, no packages at run time), with its TypeScript
//     declarations in gavel.d.ts;
//   - index.html, app.js and app.css: the meeting page, built on gavel.js
//     alone.
//
// The tests in this directory drive them in Chromium against cmd/gavel's
// handler. Package web imports nothing of gavel.
package web

import "embed"

// Files are the files above, at the root of the FS.
//
//go:embed gavel.js gavel.d.ts index.html app.js app.css
var Files embed.FS
