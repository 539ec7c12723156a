package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// passwd runs RunPasswd with stdin and returns its status, stdout and stderr.
func passwd(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := RunPasswd(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// login reports whether user with password passes Authenticate with file.
func login(t *testing.T, file, user, password string) bool {
	t.Helper()
	c, err := Load(Options{PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := c.Authenticate("c", user, []byte(password), true, true, "")
	return code == Accepted
}

func TestRunPasswdAddAndChange(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	code, out, errOut := passwd("s3cret\n", "-cost", "4", file, "alice")
	if code != 0 || out != "added user \"alice\"\n" || errOut != "" {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v, want 0600", fi.Mode(), err)
	}
	if !login(t, file, "alice", "s3cret") || login(t, file, "alice", "s3cret\n") {
		t.Fatal("added password does not work, or the newline became part of it")
	}
	b, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(b), "alice:$2a$04$") || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("file: %q", b)
	}

	// Others' lines, comments and order stay; alice's line changes in place.
	os.WriteFile(file, []byte("# users\nbob:"+bobHash+"\r\n"+string(b)+"\ncarol:"+carolHash), 0o644)
	code, out, errOut = passwd("n3w\r\n", "-cost", "4", file, "alice")
	if code != 0 || out != "changed the password of user \"alice\"\n" || errOut != "" {
		t.Fatalf("change: %d %q %q", code, out, errOut)
	}
	after, _ := os.ReadFile(file)
	lines := strings.Split(string(after), "\n")
	if len(lines) != 6 || lines[0] != "# users" || lines[1] != "bob:"+bobHash ||
		!strings.HasPrefix(lines[2], "alice:$2a$04$") || lines[2]+"\n" == string(b) ||
		lines[3] != "" || lines[4] != "carol:"+carolHash || lines[5] != "" {
		t.Fatalf("file after change:\n%s", after)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after change %v, want 0600", fi.Mode())
	}
	if !login(t, file, "alice", "n3w") || login(t, file, "alice", "s3cret") || !login(t, file, "bob", "bob-secret") {
		t.Fatal("changed password not in force, or bob lost")
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestRunPasswdArgon2id(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	if code, _, errOut := passwd("pw-without-newline", "-hash", "argon2id", file, "GID_test@@@device-1"); code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	b, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(b), "GID_test@@@device-1:$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("file: %q", b)
	}
	if !login(t, file, "GID_test@@@device-1", "pw-without-newline") {
		t.Fatal("argon2id password does not work")
	}
}

func TestRunPasswdDelete(t *testing.T) {
	file := writeFile(t, t.TempDir(), "passwd", "alice:"+aliceHash+"\nbob:"+bobHash+"\n")
	if code, out, _ := passwd("", "-delete", file, "alice"); code != 0 || out != "deleted user \"alice\"\n" {
		t.Fatalf("delete: %d %q", code, out)
	}
	if b, _ := os.ReadFile(file); string(b) != "bob:"+bobHash+"\n" {
		t.Fatalf("file: %q", b)
	}
	code, _, errOut := passwd("", "-delete", file, "alice")
	if code != 1 || errOut != "glassmq passwd: no user \"alice\" in "+file+"\n" {
		t.Fatalf("delete missing user: %d %q", code, errOut)
	}
}

func TestRunPasswdErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "passwd")
	const usage = "usage: glassmq passwd [-hash bcrypt|argon2id|scram-sha-256] [-cost N] [-iterations N] [-delete] FILE USER\n"
	cases := []struct {
		name, stdin string
		args        []string
		code        int
		stderr      string
	}{
		{"no arguments", "pw\n", nil, 2, "glassmq passwd: want FILE and USER, got 0 arguments\n" + usage},
		{"one argument", "pw\n", []string{file}, 2, "glassmq passwd: want FILE and USER, got 1 arguments\n" + usage},
		{"three arguments", "pw\n", []string{file, "a", "b"}, 2, "glassmq passwd: want FILE and USER, got 3 arguments\n" + usage},
		{"unknown flag", "pw\n", []string{"-x", file, "a"}, 2, "glassmq passwd: flag provided but not defined: -x\n" + usage},
		{"bad hash", "pw\n", []string{"-hash", "md5", file, "a"}, 2, "glassmq passwd: -hash \"md5\" is not bcrypt, argon2id or scram-sha-256\n" + usage},
		{"bad cost", "pw\n", []string{"-cost", "3", file, "a"}, 2, "glassmq passwd: -cost 3 is outside 4 to 31\n" + usage},
		{"cost with argon2id", "pw\n", []string{"-hash", "argon2id", "-cost", "12", file, "a"}, 2, "glassmq passwd: -cost is the bcrypt cost; argon2id has parameters of its own\n" + usage},
		{"bad iterations", "pw\n", []string{"-hash", "scram-sha-256", "-iterations", "4095", file, "a"}, 2, "glassmq passwd: -iterations 4095 is outside 4096 to 1048576\n" + usage},
		{"iterations with bcrypt", "pw\n", []string{"-iterations", "8192", file, "a"}, 2, "glassmq passwd: -iterations is the scram-sha-256 iteration count; bcrypt has parameters of its own\n" + usage},
		{"colon in user", "pw\n", []string{file, "a:b"}, 2, "glassmq passwd: user name \"a:b\" holds ':', which ends the user name in the file\n" + usage},
		{"empty user", "pw\n", []string{file, ""}, 2, "glassmq passwd: user name \"\" is empty\n" + usage},
		{"comment user", "pw\n", []string{file, "#a"}, 2, "glassmq passwd: user name \"#a\" starts with '#', which marks a comment in the file\n" + usage},
		{"spaced user", "pw\n", []string{file, " a"}, 2, "glassmq passwd: user name \" a\" starts or ends with a space, which the file ignores\n" + usage},
		{"control in user", "pw\n", []string{file, "a\nb"}, 2, "glassmq passwd: user name \"a\\nb\" holds a control character\n" + usage},
		{"bad UTF-8 user", "pw\n", []string{file, "a\xff"}, 2, "glassmq passwd: user name \"a\\xff\" is not valid UTF-8\n" + usage},
		{"empty password", "\n", []string{file, "a"}, 1, "glassmq passwd: the password on stdin is empty\n"},
		{"no stdin", "", []string{file, "a"}, 1, "glassmq passwd: the password on stdin is empty\n"},
		{"long bcrypt password", strings.Repeat("x", 73) + "\n", []string{file, "a"}, 1,
			"glassmq passwd: password is 73 bytes; bcrypt uses only the first 72: use a shorter one or -hash argon2id\n"},
		{"missing directory", "pw\n", []string{"-cost", "4", filepath.Join(dir, "no", "passwd"), "a"}, 1,
			"glassmq passwd: cannot write " + filepath.Join(dir, "no", "passwd") + ": no such file or directory\n"},
		{"file is a directory", "pw\n", []string{dir, "a"}, 1, "glassmq passwd: cannot read " + dir + ": is a directory\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := passwd(tc.stdin, tc.args...)
			if code != tc.code || errOut != tc.stderr || out != "" {
				t.Errorf("got %d, stdout %q, stderr\n%q\nwant %d, stderr\n%q", code, out, errOut, tc.code, tc.stderr)
			}
		})
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a failed run created %s", file)
	}
}

func TestRunPasswdHelp(t *testing.T) {
	code, _, errOut := passwd("", "-help")
	if code != 0 || !strings.HasPrefix(errOut, "usage: glassmq passwd") || !strings.Contains(errOut, "-hash") {
		t.Errorf("-help: %d %q", code, errOut)
	}
}
