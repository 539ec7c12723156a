package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// FileError says what is wrong where in a password or ACL file. Load and
// Reload return one per bad line, joined with errors.Join. Its text never
// holds a password or a hash.
type FileError struct {
	File   string // path as given in Options
	Line   int    // 1-based; 0 when the file as a whole could not be read
	Detail string // what is wrong: "missing ':' between user name and hash"
	Err    error  // the underlying error (an *fs.PathError's cause) or nil
}

// Error renders e as "auth: acl.conf:7: unknown action \"read\", want
// publish, subscribe or pubsub", or without the line number when Line is 0.
func (e *FileError) Error() string {
	if e.Line == 0 {
		return "auth: " + e.File + ": " + e.Detail
	}
	return "auth: " + e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Detail
}

// Unwrap returns the underlying error, such as fs.ErrNotExist, or nil.
func (e *FileError) Unwrap() error { return e.Err }

// readError turns a failed os.ReadFile into a *FileError without repeating
// the path.
func readError(file string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &FileError{File: file, Detail: "cannot read: " + pe.Err.Error(), Err: pe.Err}
	}
	return &FileError{File: file, Detail: "cannot read: " + err.Error(), Err: err}
}

// quote renders text from a file with %q, cut to 64 bytes. Never call it on
// a password or a hash.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
