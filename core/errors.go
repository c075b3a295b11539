package core

import (
	"errors"
	"fmt"
	"strconv"
)

// Code is the numeric code of a gavel error. Codes RealtimeKit documents for
// the same condition are kept (1201 is its "Permission denied").
type Code int

// The error codes. Programs compare codes; messages are for people.
const (
	CodePermissionDenied    Code = 1201
	CodeParticipantNotFound Code = 1202
	CodeCannotActOnSelf     Code = 1203
	CodeAlreadyJoined       Code = 1205
	CodeNotJoined           Code = 1208
	CodeInvalidCommand      Code = 1210
	CodeSessionEnded        Code = 1211
	CodeUnknownPreset       Code = 1212
)

var codeNames = map[Code]string{
	CodePermissionDenied:    "permission_denied",
	CodeParticipantNotFound: "participant_not_found",
	CodeCannotActOnSelf:     "cannot_act_on_self",
	CodeAlreadyJoined:       "already_joined",
	CodeNotJoined:           "not_joined",
	CodeInvalidCommand:      "invalid_command",
	CodeSessionEnded:        "session_ended",
	CodeUnknownPreset:       "unknown_preset",
}

// Name is the code's wire name ("permission_denied"), or "code_N" for a code
// gavel does not define.
func (c Code) Name() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return "code_" + strconv.Itoa(int(c))
}

// Known reports whether c is one of the codes above.
func (c Code) Known() bool {
	_, ok := codeNames[c]
	return ok
}

// CodeByName returns the code whose wire name is name.
func CodeByName(name string) (Code, bool) {
	for c, n := range codeNames {
		if n == name {
			return c, true
		}
	}
	return 0, false
}

// Error is a rejection with a code. Two *Error values match under errors.Is
// when their codes are equal, so errors.Is(err, ErrPermissionDenied) holds for
// any permission_denied error whatever its message.
type Error struct {
	Code    Code
	Message string
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Name is the wire name of the error's code.
func (e *Error) Name() string { return e.Code.Name() }

// Error formats the error as "name (code): message".
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s (%d)", e.Code.Name(), int(e.Code))
	}
	return fmt.Sprintf("%s (%d): %s", e.Code.Name(), int(e.Code), e.Message)
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Sentinels, one per code, for errors.Is.
var (
	ErrPermissionDenied    = &Error{Code: CodePermissionDenied, Message: "permission denied"}
	ErrParticipantNotFound = &Error{Code: CodeParticipantNotFound, Message: "participant not found"}
	ErrCannotActOnSelf     = &Error{Code: CodeCannotActOnSelf, Message: "cannot perform action on self"}
	ErrAlreadyJoined       = &Error{Code: CodeAlreadyJoined, Message: "participant already exists"}
	ErrNotJoined           = &Error{Code: CodeNotJoined, Message: "action not permitted without joining room"}
	ErrInvalidCommand      = &Error{Code: CodeInvalidCommand, Message: "invalid command"}
	ErrSessionEnded        = &Error{Code: CodeSessionEnded, Message: "session has ended"}
	ErrUnknownPreset       = &Error{Code: CodeUnknownPreset, Message: "unknown preset"}
)

// CodeOf returns the code of the first *Error in err's chain, and false when
// there is none. A nil *Error in an error interface has no code.
func CodeOf(err error) (Code, bool) {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Code, true
	}
	return 0, false
}
