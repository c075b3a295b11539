package client

import (
	"errors"
	"fmt"

	"github.com/gavelrtc/gavel/core"
)

// ClientError is a command's failure with a SPEC code, as the SDK's
// ClientError: 1201 when self lacks the permission (checked here first,
// with no round trip, and by the server again), or the code the server
// rejected the command with. It unwraps to a *core.Error, so errors.Is
// with core's sentinels (core.ErrPermissionDenied …) and core.CodeOf work.
type ClientError struct {
	Code    core.Code
	Message string
	// Remote is set when the server rejected the command; otherwise the
	// client refused it without sending it.
	Remote bool
}

// Error implements error.
func (e *ClientError) Error() string {
	where := "client"
	if e.Remote {
		where = "server"
	}
	return fmt.Sprintf("client: %s (%d) from the %s: %s", e.Code.Name(), int(e.Code), where, e.Message)
}

// Unwrap returns the error as a *core.Error.
func (e *ClientError) Unwrap() error { return &core.Error{Code: e.Code, Message: e.Message} }

// Errors of the client, matched with errors.Is.
var (
	// ErrClosed: the meeting is over (Close, or it ended by itself: see
	// Meeting.Err); a command waiting for its result when it ended fails
	// with an error matching ErrClosed.
	ErrClosed = errors.New("client: meeting closed")
	// ErrRoomLeft: the meeting ended because self left the room: left,
	// kicked, or the session ended (Self.RoomState says which).
	ErrRoomLeft = errors.New("client: left the room")
	// ErrReplaced: another connection of the same participant took over.
	ErrReplaced = errors.New("client: replaced by another connection")
	// ErrUnauthorized: the server refused the token (HTTP 401).
	ErrUnauthorized = errors.New("client: token refused")
	// ErrRateLimited: the server refused a command over the connection's
	// command rate; it was not applied.
	ErrRateLimited = errors.New("client: command refused: over the rate limit")
	// ErrUnavailable: the server could not reach the session; the command
	// may be sent again.
	ErrUnavailable = errors.New("client: command refused: session unavailable")
	// ErrFailed: the server refused the command for good: the session's
	// store can never hold it (refused too_large), or it failed for another
	// reason that will not pass. It was not applied; sending it again would
	// fail the same way.
	ErrFailed = errors.New("client: command failed for good")
	// ErrProtocol: the server sent something this client does not
	// understand.
	ErrProtocol = errors.New("client: protocol error")
)
