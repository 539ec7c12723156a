package broker

import "golang.org/x/sys/unix"

// setDeferAccept sets TCP_DEFER_ACCEPT on listening socket fd: one second,
// which the kernel rounds to one SYN-ACK retransmission.
func setDeferAccept(fd int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
}
