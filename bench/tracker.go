package bench

// Tracker accounts for the messages one subscriber receives: per publisher, a
// bit per sequence number seen, so that a message received twice counts as a
// duplicate and one never received counts as lost once the publisher's total
// is known. Sequence numbers start at 0. A Tracker belongs to one goroutine
// at a time; it grows as sequence numbers grow and does not allocate
// otherwise.
type Tracker struct {
	pubs []seqSet
	// Unique counts distinct messages, Duplicates repeats of one already
	// seen, Reordered messages older than the newest seen from the same
	// publisher (MQTT keeps one publisher's order per topic [MQTT-4.6.0-6]).
	Unique, Duplicates, Reordered uint64
}

type seqSet struct {
	bits []uint64
	next uint32 // one past the largest sequence number seen
	seen bool   // any seen at all
}

// NewTracker returns a Tracker for publishers 0 to publishers-1, with room
// for sizeHint sequence numbers each before it grows.
func NewTracker(publishers, sizeHint int) *Tracker {
	t := &Tracker{pubs: make([]seqSet, publishers)}
	for i := range t.pubs {
		t.pubs[i].bits = make([]uint64, 0, (sizeHint+63)/64)
	}
	return t
}

// Record notes message seq of publisher pub and reports whether it is new.
// A publisher index beyond those given to NewTracker grows the Tracker.
func (t *Tracker) Record(pub, seq uint32) bool {
	if int(pub) >= len(t.pubs) {
		t.pubs = append(t.pubs, make([]seqSet, int(pub)+1-len(t.pubs))...)
	}
	s := &t.pubs[pub]
	w, b := int(seq/64), uint64(1)<<(seq%64)
	for w >= len(s.bits) {
		s.bits = append(s.bits, 0)
	}
	if s.bits[w]&b != 0 {
		t.Duplicates++
		return false
	}
	s.bits[w] |= b
	t.Unique++
	if s.seen && seq < s.next-1 {
		t.Reordered++
	}
	if !s.seen || seq >= s.next {
		s.next = seq + 1
	}
	s.seen = true
	return true
}

// Received returns how many distinct messages of publisher pub were seen.
func (t *Tracker) Received(pub uint32) uint64 {
	if int(pub) >= len(t.pubs) {
		return 0
	}
	var n uint64
	for _, w := range t.pubs[pub].bits {
		n += uint64(popcount(w))
	}
	return n
}

// Lost returns how many of the first sent[pub] messages of each publisher
// were never seen. Messages seen beyond a publisher's count (which a correct
// run never has) are not subtracted.
func (t *Tracker) Lost(sent []uint64) uint64 {
	var lost uint64
	for pub, n := range sent {
		var got uint64
		if pub < len(t.pubs) {
			bits := t.pubs[pub].bits
			full := int(n / 64)
			for i := 0; i < full && i < len(bits); i++ {
				got += uint64(popcount(bits[i]))
			}
			if r := n % 64; r != 0 && full < len(bits) {
				got += uint64(popcount(bits[full] & (1<<r - 1)))
			}
		}
		lost += n - got
	}
	return lost
}
