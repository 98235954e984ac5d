package patchid

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkPatchID compares Write with `git patch-id --stable` on the same
// `git log -p` file: DPIHUB_BENCH_LOG if set, otherwise the log of a
// synthetic history of a few thousand commits made with git fast-import.
func BenchmarkPatchID(b *testing.B) {
	logPath := os.Getenv("DPIHUB_BENCH_LOG")
	if logPath == "" {
		logPath = syntheticLog(b, 4000)
	}
	info, err := os.Stat(logPath)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(info.Size())
		b.ReportAllocs()
		for b.Loop() {
			f, err := os.Open(logPath)
			if err != nil {
				b.Fatal(err)
			}
			if err := Write(io.Discard, f, Options{Stable: true}); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("git", func(b *testing.B) {
		requireGit(b)
		home := b.TempDir()
		b.SetBytes(info.Size())
		for b.Loop() {
			f, err := os.Open(logPath)
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command("git", "patch-id", "--stable")
			cmd.Env = gitEnv(home)
			cmd.Stdin, cmd.Stdout = f, io.Discard
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
}

// syntheticLog builds a history of n commits, each editing, adding, deleting
// or renaming a few of a couple of hundred text files, and returns the path
// of its `git log -p` output. fast-import keeps this to a few seconds.
func syntheticLog(tb testing.TB, n int) string {
	tb.Helper()
	r := newRepo(tb)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("func return if else for range err nil ctx value index result buffer line patch diff hash commit tree blob ref head main test case want got")
	genLine := func() string {
		var sb strings.Builder
		sb.WriteString(strings.Repeat("\t", rng.IntN(4)))
		for k := 3 + rng.IntN(8); k > 0; k-- {
			sb.WriteString(words[rng.IntN(len(words))])
			sb.WriteByte(' ')
		}
		sb.WriteString("// ")
		sb.WriteString(fmt.Sprint(rng.Uint32()))
		return sb.String()
	}
	files := map[string][]string{}
	var names []string
	made := 0
	newFile := func() {
		made++
		name := fmt.Sprintf("pkg%d/file%d.go", rng.IntN(20), made)
		content := make([]string, 40+rng.IntN(160))
		for i := range content {
			content[i] = genLine()
		}
		files[name] = content
		names = append(names, name)
	}
	for range 200 {
		newFile()
	}

	var stream bytes.Buffer
	blob := func(path string, content []string) {
		data := strings.Join(content, "\n") + "\n"
		fmt.Fprintf(&stream, "M 100644 inline %s\ndata %d\n%s\n", path, len(data), data)
	}
	for c := 1; c <= n; c++ {
		msg := fmt.Sprintf("commit %d\n\nChange a few files.\n", c)
		fmt.Fprintf(&stream, "commit refs/heads/main\nmark :%d\ncommitter C O Mitter <c@example.com> %d +0000\ndata %d\n%s", c, 1112911993+c*60, len(msg), msg)
		if c > 1 {
			fmt.Fprintf(&stream, "from :%d\n", c-1)
		} else {
			for _, name := range names {
				blob(name, files[name])
			}
			continue
		}
		switch op := rng.IntN(20); {
		case op == 0:
			newFile()
			blob(names[len(names)-1], files[names[len(names)-1]])
		case op == 1 && len(names) > 50:
			i := rng.IntN(len(names))
			fmt.Fprintf(&stream, "D %s\n", names[i])
			delete(files, names[i])
			names = append(names[:i], names[i+1:]...)
		case op == 2:
			i := rng.IntN(len(names))
			to := names[i] + ".moved"
			fmt.Fprintf(&stream, "R %s %s\n", names[i], to)
			files[to] = files[names[i]]
			delete(files, names[i])
			names[i] = to
		}
		for k := 1 + rng.IntN(4); k > 0; k-- {
			name := names[rng.IntN(len(names))]
			content := files[name]
			for e := 1 + rng.IntN(6); e > 0; e-- {
				at := rng.IntN(len(content))
				switch rng.IntN(3) {
				case 0:
					content[at] = genLine()
				case 1:
					content = append(content[:at], append([]string{genLine(), genLine()}, content[at:]...)...)
				default:
					if len(content) > 10 {
						content = append(content[:at], content[at+1:]...)
					}
				}
			}
			files[name] = content
			blob(name, content)
		}
	}
	runGit(tb, r.dir, r.home, stream.Bytes(), "fast-import", "--quiet")
	out := filepath.Join(tb.TempDir(), "log-p.txt")
	f, err := os.Create(out)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("git", "log", "-p", "main")
	cmd.Dir, cmd.Env, cmd.Stdout = r.dir, gitEnv(r.home), f
	if err := cmd.Run(); err != nil {
		tb.Fatalf("git log -p: %v", err)
	}
	return out
}
