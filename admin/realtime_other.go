//go:build !linux

package admin

import (
	"errors"
	"net"
)

func setRealtime(int) error { return errors.New("real-time admin threads are Linux only") }

type blockingConn struct{ net.Conn }

func newBlockingConn(*net.TCPConn) (*blockingConn, error) {
	return nil, errors.New("real-time admin threads are Linux only")
}

func (c *blockingConn) closeFD() {}
