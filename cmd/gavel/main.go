// Command gavel serves gavel: the meeting page, the JavaScript SDK, the
// websocket endpoint with media, and every session's log in NATS
// JetStream (embedded, under ./gavel-data, unless -nats names a server).
//
//	go run ./cmd/gavel            # then open http://127.0.0.1:8080 in two tabs
//	gavel -help                   # every flag and GAVEL_* variable
//
// Three nodes on one machine form a cluster (the README has the three
// commands; every node needs the same GAVEL_SECRET):
//
//	gavel -name n1 -listen 127.0.0.1:8081 -nats-listen 127.0.0.1:4223 \
//		-cluster-listen 127.0.0.1:6223 -routes nats://127.0.0.1:6223,nats://127.0.0.1:6224,nats://127.0.0.1:6225
//	gavel -name n4 -listen 127.0.0.1:8084 -nats nats://127.0.0.1:4223   # a node joining it
//
// Bad configuration exits with status 2 and one line that says why.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gavelrtc/gavel/internal/gavelserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := gavelserver.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
