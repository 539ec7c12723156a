package broker

import (
	"net"
	"reflect"
	"sync"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// gnet keeps the peer's address of every TCP connection twice for the
// connection's lifetime: the unix.Sockaddr that accept returned (32 bytes
// for IPv4) and a *net.TCPAddr built from it (48 bytes, its IP a view into
// the Sockaddr), 80 bytes of heap per idle connection. The broker needs
// the address once, in Open, where it formats Conn.addr from it, and gnet
// itself reads neither field again for a TCP connection: the Sockaddr is
// used to send UDP datagrams, the net.Addr only by Conn.RemoteAddr and by
// its load balancer before the connection is registered, and its release
// on close accepts nil for both. gnet v2 has no option to keep neither, so
// dropPeerAddr clears the two fields once Open has read them.
//
// The fields are found by name and type through reflection, once; if a
// gnet release renames or retypes them, peerAddrFields reports false,
// nothing is cleared and TestGnetPeerAddrFields fails, so that an upgrade
// is noticed rather than silently costing the 80 bytes again.

// peerAddrLayout is where a gnet connection keeps the peer's address.
type peerAddrLayout struct {
	typ            reflect.Type // *gnet.conn
	sa, addr       uintptr      // offsets of its remote (unix.Sockaddr) and remoteAddr (net.Addr)
	ok             bool
	once           sync.Once
	sockaddrT, adT reflect.Type
}

var peerAddr = peerAddrLayout{
	sockaddrT: reflect.TypeFor[unix.Sockaddr](),
	adT:       reflect.TypeFor[net.Addr](),
}

// peerAddrFields reports whether c's dynamic type is a pointer to a struct
// with the two fields gnet v2.10 keeps the peer's address in, and their
// offsets. The first call decides for every later one. Safe for
// concurrent use.
func peerAddrFields(c gnet.Conn) (sa, addr uintptr, ok bool) {
	l := &peerAddr
	l.once.Do(func() {
		t := reflect.TypeOf(c)
		if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			return
		}
		fs, ok1 := t.Elem().FieldByName("remote")
		fa, ok2 := t.Elem().FieldByName("remoteAddr")
		if !ok1 || !ok2 || fs.Type != l.sockaddrT || fa.Type != l.adT {
			return
		}
		l.typ, l.sa, l.addr, l.ok = t, fs.Offset, fa.Offset, true
	})
	if !l.ok || reflect.TypeOf(c) != l.typ {
		return 0, 0, false
	}
	return l.sa, l.addr, true
}

// dropPeerAddr clears gnet's two copies of c's peer address, so that they
// can be collected; c.RemoteAddr returns nil afterwards. Call it on c's
// loop, after the last use of c.RemoteAddr (Open). It does nothing for a
// gnet whose layout peerAddrFields does not recognise. Loop-only.
func dropPeerAddr(c gnet.Conn) {
	sa, addr, ok := peerAddrFields(c)
	if !ok {
		return
	}
	p := reflect.ValueOf(c).UnsafePointer()
	*(*unix.Sockaddr)(unsafe.Add(p, sa)) = nil
	*(*net.Addr)(unsafe.Add(p, addr)) = nil
}
