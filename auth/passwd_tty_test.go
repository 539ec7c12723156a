//go:build linux

package auth

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// On a terminal, RunPasswd prompts twice on stderr and the terminal does not
// echo the password.
func TestRunPasswdTerminal(t *testing.T) {
	for _, tc := range []struct {
		name, first, second string
		code                int
		stderr              string
	}{
		{"match", "tty-secret", "tty-secret", 0, "Password: \nPassword again: \n"},
		{"mismatch", "tty-secret", "tty-secreT", 1, "Password: \nPassword again: \nglassmq passwd: the passwords do not match\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, slave := openPTY(t)
			file := filepath.Join(t.TempDir(), "passwd")
			pr, pw := io.Pipe()
			done := make(chan int)
			go func() {
				code := RunPasswd([]string{"-cost", "4", file, "alice"}, slave, io.Discard, pw)
				pw.Close()
				done <- code
			}()
			stderr := bufio.NewReader(pr)
			var got strings.Builder
			for _, answer := range []string{tc.first, tc.second} {
				prompt, err := readUntil(stderr, ": ")
				got.WriteString(prompt)
				if err != nil {
					t.Fatalf("waiting for a prompt: %v (got %q)", err, got.String())
				}
				time.Sleep(10 * time.Millisecond) // let ReadPassword turn echo off
				master.Write([]byte(answer + "\n"))
			}
			rest, _ := io.ReadAll(stderr)
			got.Write(rest)
			if code := <-done; code != tc.code || got.String() != tc.stderr {
				t.Fatalf("got %d, stderr %q; want %d, %q", code, got.String(), tc.code, tc.stderr)
			}
			// Whatever the terminal echoed must not hold the password.
			echo := drain(t, master)
			if strings.Contains(string(echo), "tty-secre") {
				t.Errorf("terminal echoed the password: %q", echo)
			}
			if tc.code == 0 && !login(t, file, "alice", "tty-secret") {
				t.Error("password typed on the terminal does not work")
			}
		})
	}
}

// readUntil reads from r up to and including delim.
func readUntil(r *bufio.Reader, delim string) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), delim) {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// drain returns what the terminal has written to its master end so far.
func drain(t *testing.T, master *os.File) string {
	fd := int(master.Fd())
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	var b []byte
	buf := make([]byte, 512)
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			return string(b)
		}
		b = append(b, buf[:n]...)
	}
}
