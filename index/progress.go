package index

import (
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Update says how far the blobs of a Copy or Publish have got.
type Update struct {
	// Complete is how many bytes of blobs have been sent so far, Total how
	// many there are to send as far as is known: it grows as each upload
	// starts. Blobs the destination already has, or mounts from another of
	// its repositories, are not counted.
	Complete, Total int64
	// Done marks the last Update of an operation. It is sent exactly once,
	// whether the operation wrote something, nothing, or failed.
	Done bool
}

// Progress is told how far an operation has got. It is called from one
// goroutine at a time and never after the Update that says Done.
type Progress func(Update)

// meter counts the bytes of the blobs an operation reads to send, for its
// Progress. A nil meter counts nothing.
type meter struct {
	mu              sync.Mutex
	fn              Progress
	complete, total int64
	// read is how many bytes of each blob were counted: a blob read again
	// (its upload retried) takes its earlier count back.
	read  map[v1.Hash]int64
	ended bool
}

func newMeter(fn Progress) *meter {
	if fn == nil {
		return nil
	}
	return &meter{fn: fn, read: map[v1.Hash]int64{}}
}

// reader counts what rc, blob h of size bytes, yields.
func (m *meter) reader(h v1.Hash, size int64, rc io.ReadCloser) io.ReadCloser {
	if m == nil {
		return rc
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, again := m.read[h]; again {
		m.complete -= n
	} else {
		m.total += size
	}
	m.read[h] = 0
	m.send()
	return &meteredReader{ReadCloser: rc, m: m, h: h}
}

func (m *meter) add(h v1.Hash, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.read[h] += int64(n)
	m.complete += int64(n)
	m.send()
}

// send passes the counts on; the caller holds mu.
func (m *meter) send() {
	if !m.ended {
		m.fn(Update{Complete: m.complete, Total: m.total})
	}
}

// end sends the last Update. Every operation that made the meter calls it
// on its way out, on every path; later reads are not reported.
func (m *meter) end() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return
	}
	m.ended = true
	m.fn(Update{Complete: m.complete, Total: m.total, Done: true})
}

type meteredReader struct {
	io.ReadCloser
	m *meter
	h v1.Hash
}

func (r *meteredReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.m.add(r.h, n)
	}
	return n, err
}
