package session

import "sync/atomic"

// queue is a bounded FIFO ring of Queued messages. When full, Push drops the
// oldest element. The zero value with max set is ready to use. A session
// allocates its queue with its first queued message (most clients never
// have one); the reading methods take a nil queue as empty.
type queue struct {
	buf        []Queued
	head, size int
	max        int
	dropped    atomic.Uint64 // messages dropped because the queue was full; read by Info
	expired    atomic.Uint64 // messages whose expiry passed while queued; read by Info
}

// push appends q, dropping the oldest element when the queue holds max
// elements; it reports whether one was dropped.
func (q *queue) push(m Queued) (dropped bool) {
	if q.max <= 0 {
		return true
	}
	if q.size == q.max {
		q.buf[q.head] = Queued{}
		q.head = (q.head + 1) % len(q.buf)
		q.size--
		dropped = true
	}
	if q.size == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.size)%len(q.buf)] = m
	q.size++
	return dropped
}

func (q *queue) grow() {
	n := 2 * len(q.buf)
	if n == 0 {
		n = 8
	}
	if n > q.max {
		n = q.max
	}
	nb := make([]Queued, n)
	for i := 0; i < q.size; i++ {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = nb, 0
}

// len returns the number of elements; 0 for a nil queue.
func (q *queue) len() int {
	if q == nil {
		return 0
	}
	return q.size
}

// each calls fn for every element, oldest first; a nil queue has none.
func (q *queue) each(fn func(Queued)) {
	if q == nil {
		return
	}
	for i := 0; i < q.size; i++ {
		fn(q.buf[(q.head+i)%len(q.buf)])
	}
}

// pop removes and returns the oldest element.
func (q *queue) pop() (Queued, bool) {
	if q == nil || q.size == 0 {
		return Queued{}, false
	}
	m := q.buf[q.head]
	q.buf[q.head] = Queued{}
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	if q.size == 0 && len(q.buf) > 64 {
		q.buf, q.head = nil, 0 // give back memory of a drained burst
	}
	return m, true
}
