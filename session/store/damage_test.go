package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/glassmq/glassmq/session"
	bolt "go.etcd.io/bbolt"
)

// damageRetained is how many retained messages the damage tests store.
const damageRetained = 2000

// damagedFixture builds a real store holding damageRetained retained
// messages and returns its file's bytes and how many of them are in use
// (bbolt's own count, pages below its high-water mark; the file is grown
// ahead of that).
func damagedFixture(t *testing.T) (b []byte, used int) {
	t.Helper()
	dir := t.TempDir()
	d := open(t, dir, FsyncAlways)
	for i := range damageRetained {
		d.Apply(session.Op{Kind: session.OpPutRetained, Msg: &session.Message{Topic: fmt.Appendf(nil, "t/%d", i), Payload: bytes.Repeat([]byte{byte(i)}, 100), Retain: true}})
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error { used = int(tx.Size()); return nil })
	return b, used
}

// openCopy writes b as the store file of a fresh directory, opens it and
// loads it. It returns the error of Open or Load and, when both succeed,
// how many retained messages came back intact.
func openCopy(t *testing.T, b []byte) (intact int, err error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(Options{Dir: dir, Fsync: FsyncAlways})
	if err != nil {
		return 0, err
	}
	defer d.Close()
	_, retained, err := d.Load()
	if err != nil {
		return 0, err
	}
	for _, m := range retained {
		var i int
		if _, err := fmt.Sscanf(string(m.Topic), "t/%d", &i); err == nil && bytes.Equal(m.Payload, bytes.Repeat([]byte{byte(i)}, 100)) {
			intact++
		}
	}
	return intact, nil
}

// checkRefused fails the test unless err says the file is damaged, by
// identity, with the file name and what to do in the text.
func checkRefused(t *testing.T, what string, err error) {
	t.Helper()
	var de *DamagedError
	if !errors.Is(err, ErrDamaged) || !errors.As(err, &de) || filepath.Base(de.Path) != FileName {
		t.Fatalf("%s: got %v, want a *DamagedError (ErrDamaged) naming %s", what, err, FileName)
	}
}

// TestDamagedFileTruncated cuts a real store file at every page boundary
// and at several offsets inside pages: every cut is refused with
// ErrDamaged, none crashes the process (a cut file read through bbolt's
// mapping faults with SIGBUS or SIGSEGV unless checked first). Cuts in the
// space bbolt grew the file by but has not used yet lose nothing: those
// copies, and the whole file, open with all their data. (A file cut to 0
// bytes cannot be told from a new one; bbolt creates a store in it.)
func TestDamagedFileTruncated(t *testing.T) {
	b, used := damagedFixture(t)
	const page = 4096
	if used%page != 0 || used < 8*page || used > len(b) {
		t.Fatalf("fixture uses %d of %d bytes, want a multiple of %d, at least 8 pages", used, len(b), page)
	}
	var cuts []int
	for off := page; off <= len(b); off += page {
		cuts = append(cuts, off)
	}
	for _, in := range []int{1, 16, 80, 100, page / 2, page - 1} {
		for _, pg := range []int{0, 1, 2, used / page / 2, used/page - 1} {
			cuts = append(cuts, pg*page+in)
		}
	}
	for _, cut := range cuts {
		n, err := openCopy(t, b[:cut])
		what := fmt.Sprintf("cut at %d of %d bytes (%d in use)", cut, len(b), used)
		if cut < used {
			checkRefused(t, what, err)
		} else if err != nil || n != damageRetained {
			t.Fatalf("%s: %d intact, %v; want %d, nil", what, n, err, damageRetained)
		}
	}
}

// TestDamagedFilePages zeroes, then fills with seeded random bytes, each
// page of a real store file in turn. No copy crashes the process; a zeroed
// page is either refused with ErrDamaged or was not in use (a free page),
// in which case every message comes back intact; a garbled page is refused
// with ErrDamaged or opens (garbage inside a value cannot be told from
// data without checksums, which bbolt keeps only for its headers).
func TestDamagedFilePages(t *testing.T) {
	b, used := damagedFixture(t)
	const page = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for pg := 0; pg < used/page; pg++ {
		c := bytes.Clone(b)
		clear(c[pg*page : (pg+1)*page])
		n, err := openCopy(t, c)
		switch {
		case err != nil:
			checkRefused(t, fmt.Sprintf("page %d zeroed", pg), err)
			refused++
		case pg >= 2 && n != damageRetained: // a meta page may fall back to the previous transaction
			t.Fatalf("page %d zeroed: opened with %d of %d messages intact and no error", pg, n, damageRetained)
		}

		c = bytes.Clone(b)
		for i := pg * page; i < (pg+1)*page; i++ {
			c[i] = byte(rng.Uint32())
		}
		if _, err := openCopy(t, c); err != nil {
			checkRefused(t, fmt.Sprintf("page %d garbled", pg), err)
		}
	}
	if refused == 0 {
		t.Fatal("no zeroed page was refused; the test damaged nothing")
	}
	c := bytes.Clone(b)
	clear(c[:2*page]) // both meta pages
	_, err := openCopy(t, c)
	checkRefused(t, "both meta pages zeroed", err)
}
