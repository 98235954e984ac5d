// Package gitcmd holds what every git command of the node runs with: the
// pinned settings that change what git prints, the environment, and the
// error of a failed command. Publishing a fix (gitfork) and assessing one
// (assess) must see diffs the same way, or a cherry-picked fix would miss
// its patch-id match; one definition keeps them so.
package gitcmd

import (
	"fmt"
	"os"
	"strings"
)

// Config pins the settings that change what git prints, so that a fork's
// own configuration (or the operator's) cannot change a patch-id, a
// published diff or a verdict. The global and system files are switched off
// in Env; these override the repository's file.
var Config = []string{
	"-c", "core.quotePath=true",
	"-c", "diff.noprefix=false",
	"-c", "diff.mnemonicPrefix=false",
	"-c", "diff.relative=false",
	"-c", "diff.context=3",
	"-c", "diff.interHunkContext=0",
	"-c", "diff.ignoreSubmodules=none",
	"-c", "diff.renames=true",
	"-c", "diff.algorithm=myers",
	"-c", "log.showSignature=false",
	"-c", "log.showRoot=true",
	"-c", "log.follow=false",
	"-c", "format.signature=",
	"-c", "format.numbered=auto",
	"-c", "format.headers=",
	"-c", "format.useAutoBase=false",
}

// Env is the whole environment git runs with: enough to find the binary
// and a temporary directory, and nothing inherited that could point git at
// another repository, index or configuration. Pathspecs are literal.
func Env() []string {
	env := []string{
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_LITERAL_PATHSPECS=1",
		"GIT_NO_REPLACE_OBJECTS=1",
		"GIT_OPTIONAL_LOCKS=0",
		"LC_ALL=C",
	}
	for _, k := range []string{"PATH", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Error reports a git command that failed.
type Error struct {
	// Args are the arguments git was given, without the pinned settings.
	Args []string
	// Stderr is what git printed on its standard error, trimmed.
	Stderr string
	// Err is the error from running the command (an *exec.ExitError when git
	// ran and exited non-zero).
	Err error
}

// Error returns the command, its error and the first line git printed.
func (e *Error) Error() string {
	msg := e.Stderr
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	name := "git"
	if len(e.Args) > 0 {
		name += " " + e.Args[0]
	}
	if msg == "" {
		return fmt.Sprintf("%s: %v", name, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", name, e.Err, msg)
}

// Unwrap returns the error from running the command.
func (e *Error) Unwrap() error { return e.Err }
