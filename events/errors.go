package events

import (
	"errors"
	"fmt"
)

// Kinds of failure every service reports the same way. A domain names its
// own errors with Sentinel or Errorf and says their kind; the edges decide
// from the kind alone (package problem: ErrBadInput is HTTP 400,
// ErrUnauthorized 401, ErrForbidden 403, ErrNotFound 404, anything else
// 500), never from an
// error's text.
var (
	// ErrBadInput: the caller's input breaks a rule; asking again with the
	// same input fails again.
	ErrBadInput = errors.New("bad input")
	// ErrNotFound: what was asked for is not known.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the request would change state and does not prove
	// that its sender may (no credentials, or wrong ones).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the sender is known and may not do or say this (the
	// kind of every *AuthorityError); asking again fails again.
	ErrForbidden = errors.New("forbidden")
)

// ErrInvalid is wrapped by every error that Validate and New return for an
// event that breaks the contract. It is an ErrBadInput.
var ErrInvalid = Sentinel(ErrBadInput, "invalid event")

// Sentinel returns a new sentinel error with text msg that errors.Is also
// matches against kind (ErrBadInput, ErrNotFound).
func Sentinel(kind error, msg string) error { return &sentinel{msg: msg, kind: kind} }

type sentinel struct {
	msg  string
	kind error
}

func (s *sentinel) Error() string { return s.msg }
func (s *sentinel) Unwrap() error { return s.kind }

// Error is a failure of a known kind with a detail written for whoever
// caused it: a page shows Detail alone, an API and a log the whole Error.
type Error struct {
	// Kind is what errors.Is matches: ErrBadInput, ErrNotFound or a
	// Sentinel of a domain.
	Kind error
	// Detail says what was wrong, in the caller's terms.
	Detail string
}

// Errorf returns an *Error of kind with a formatted detail.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Detail }

// Unwrap lets errors.Is match Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Detail returns the detail of the first *Error in err's chain, and the
// whole text of err when it holds none.
func Detail(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Detail
	}
	return err.Error()
}
