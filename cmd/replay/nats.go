package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/transport/nats"
)

// The stream and subject prefix a gavel deployment uses unless configured
// otherwise.
const (
	defaultStream = nats.DefaultStream
	defaultPrefix = nats.DefaultPrefix
)

// connectTimeout bounds connecting to a NATS server.
const connectTimeout = 10 * time.Second

// natsSource is where a nats:// session is read from.
type natsSource struct {
	stream, prefix string
}

// open connects to the server of arg, nats://[user:password@]host:port/SESSION
// (the session id URL-escaped as a path), and returns the session's log,
// read from the stream; closing it closes the connection.
func (src natsSource) open(ctx context.Context, arg string) (io.ReadCloser, string, error) {
	u, err := url.Parse(arg)
	if err != nil {
		return nil, "", err
	}
	id := strings.TrimPrefix(u.Path, "/")
	if id == "" || u.Host == "" {
		return nil, "", fmt.Errorf("%s: want nats://HOST:PORT/SESSION", arg)
	}
	server := &url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host}
	nc, err := gonats.Connect(server.String(), gonats.Name("gavel replay"), gonats.Timeout(connectTimeout))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", u.Redacted(), err)
	}
	c, err := nats.NewClient(nc, nats.WithStream(src.stream), nats.WithPrefix(src.prefix))
	var log io.ReadCloser
	if err == nil {
		log, err = c.ReadLog(ctx, id)
	}
	if err != nil {
		nc.Close()
		return nil, "", err
	}
	return closer{log, nc}, u.Redacted(), nil
}

// closer is a session's log whose Close also closes its connection.
type closer struct {
	io.ReadCloser
	nc *gonats.Conn
}

func (c closer) Close() error {
	err := c.ReadCloser.Close()
	c.nc.Close()
	return err
}
