package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// ErrDamaged is what every error about a damaged store file unwraps to:
// Open and Load refuse such a file rather than start empty over it or crash
// on it.
var ErrDamaged = errors.New("store file damaged")

// DamagedError says why the store file cannot be used. It unwraps to
// ErrDamaged and, when there is one, to the error that revealed the damage.
type DamagedError struct {
	Path   string // the store file
	Detail string // what was found: "file is 8192 bytes, its header says 128 pages of 4096 bytes"
	Err    error  // the underlying error, or nil
}

func (e *DamagedError) Error() string {
	return "store: " + e.Path + " is damaged (" + e.Detail + "); glassmq will not start on it: move it aside to start with an empty store, or restore it from a backup"
}

// Unwrap returns ErrDamaged and the underlying error.
func (e *DamagedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrDamaged}
	}
	return []error{ErrDamaged, e.Err}
}

// The layout of a bbolt meta page (go.etcd.io/bbolt internal/common/meta.go),
// in the byte order of the machine that wrote it: a 16-byte page header,
// then magic, version, page size, flags (4 bytes each), the root bucket
// (page ID and sequence), the freelist page ID, the high-water mark (the
// number of pages the file holds), the transaction ID and an FNV-64a
// checksum of everything from magic to the transaction ID.
const (
	metaOffset   = 16
	metaMagic    = 0xED0CDAED
	metaVersion  = 2
	metaSize     = 64 // magic through checksum
	noFreelist   = ^uint64(0)
	minPageSize  = 1024
	maxPageSize  = 1 << 24
	metaReadSize = 0x1000
)

type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pages    uint64 // high-water mark: pages the file must hold
	txid     uint64
}

// parseMeta decodes the meta page at the start of b and reports whether
// its magic, version and checksum are right.
func parseMeta(b []byte) (meta, bool) {
	if len(b) < metaOffset+metaSize {
		return meta{}, false
	}
	m := b[metaOffset : metaOffset+metaSize]
	le := binary.NativeEndian
	if le.Uint32(m[0:]) != metaMagic || le.Uint32(m[4:]) != metaVersion {
		return meta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return meta{}, false
	}
	return meta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		pages: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// checkFile reads the meta pages of the store file with plain reads, never
// through a memory mapping, and refuses a file that bbolt would fault on:
// one whose headers are both invalid or that is shorter than the page count
// its current header records (a truncated file; reading the missing pages
// through the mapping raises SIGBUS or SIGSEGV). A missing or empty file is
// fine: bbolt creates the store in it.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	damaged := func(format string, a ...any) error {
		return &DamagedError{Path: path, Detail: fmt.Sprintf(format, a...)}
	}
	read := func(off int64) []byte {
		buf := make([]byte, metaReadSize)
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			return nil
		}
		return buf[:n]
	}
	// The first meta page names the page size; when it is damaged, look for
	// the second at each possible page size, as bbolt does.
	var metas []meta
	m0, ok0 := parseMeta(read(0))
	if ok0 {
		metas = append(metas, m0)
		if m1, ok := parseMeta(read(int64(m0.pageSize))); ok && m1.pageSize == m0.pageSize {
			metas = append(metas, m1)
		}
	} else {
		for ps := int64(minPageSize); ps <= maxPageSize && ps < size; ps <<= 1 {
			if m1, ok := parseMeta(read(ps)); ok && int64(m1.pageSize) == ps {
				metas = append(metas, m1)
				break
			}
		}
	}
	if len(metas) == 0 {
		return damaged("no valid bbolt header in its %d bytes", size)
	}
	m := metas[0]
	if len(metas) == 2 && metas[1].txid > m.txid {
		m = metas[1]
	}
	ps := uint64(m.pageSize)
	switch {
	case ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0:
		return damaged("header gives page size %d", ps)
	case m.pages < 2 || m.pages > uint64(size)/minPageSize+1:
		return damaged("header gives %d pages for a %d-byte file", m.pages, size)
	case m.root < 2 || m.root >= m.pages:
		return damaged("root page %d outside pages 2 to %d", m.root, m.pages-1)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pages):
		return damaged("freelist page %d outside pages 2 to %d", m.freelist, m.pages-1)
	case uint64(size) < m.pages*ps:
		return damaged("file is %d bytes, its header says %d pages of %d bytes: truncated", size, m.pages, ps)
	}
	return nil
}

// walk reads every bucket, key and value of db once, so that damage shows
// now, as an error, rather than in the middle of serving. A damaged page
// makes bbolt panic (bad page type) or read outside the file's mapping; with
// panic-on-fault set for this goroutine both become panics, which walk
// recovers into a *DamagedError. bbolt's own tx.Check runs in a goroutine of
// its own, where neither could be recovered.
func walk(db *bolt.DB, path string) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &DamagedError{Path: path, Detail: fmt.Sprint(r)}
		}
	}()
	var sink byte
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if len(k) > 0 {
					sink ^= k[0] ^ k[len(k)-1]
				}
				if len(v) > 0 { // touch the first and last page of large values
					sink ^= v[0] ^ v[len(v)-1]
				}
				return nil
			})
		})
	})
	_ = sink
	if err != nil {
		return &DamagedError{Path: path, Detail: err.Error(), Err: err}
	}
	return nil
}
