package verify

import (
	"debug/elf"
	"encoding/binary"
	"io"
)

// How much of one ELF file the scan may read and keep, beyond its first
// elfHeaderLen bytes. Whatever a binary records past these bounds is not
// read, and the binary is judged by its ELF header alone.
const (
	// maxELFHead bounds the prefix the scan reads to follow the program
	// headers to the notes they point at. Linkers write the program headers
	// right after the ELF header and .note.gnu.property in the first page
	// (offset 0x338 in Debian's /bin/ls).
	maxELFHead = 64 << 10
	// maxELFTail bounds the end of a file the scan keeps to read its section
	// headers and .ARM.attributes. Linkers put the section headers last and
	// the attributes just before .symtab, .strtab and .shstrtab: a few
	// hundred bytes from the end of a stripped binary, the size of its
	// symbol table from the end of an unstripped one.
	maxELFTail = 1 << 20
)

// elfWindow holds the parts of one ELF file the scan reads from a tar
// stream, forward only and once: a prefix grown on demand up to maxELFHead
// bytes, and once something beyond it is asked for, the last maxELFTail
// bytes. What lies between is decompressed and discarded, as for any file.
// The buffer is reused from file to file of a layer.
type elfWindow struct {
	r       io.Reader
	size    uint64 // the file's size, from its tar header
	buf     []byte // the prefix, then (tail read) the tail
	head    uint64 // the prefix is file bytes [0, head)
	tailOff uint64 // the tail is file bytes [tailOff, size), in buf[head:]
	tail    bool   // the tail has been read; the prefix no longer grows
	// err is the first read error: the layer is truncated or corrupt, and
	// the scan returns it.
	err error
}

func (w *elfWindow) reset(r io.Reader, size int64) {
	w.r, w.size, w.buf, w.head, w.tailOff, w.tail, w.err = r, uint64(size), w.buf[:0], 0, 0, false, nil
}

// at returns the file's bytes [off, off+n), reading up to them if the window
// can still reach them, or nil: out of the file, out of the window's
// bounds, or a read error (w.err).
func (w *elfWindow) at(off, n uint64) []byte {
	if b, ok := w.prefix(off, n); ok {
		return b
	}
	if w.err != nil || n > w.size || off > w.size-n {
		return nil
	}
	if !w.tail {
		if w.readTail(); w.err != nil {
			return nil
		}
	}
	end := off + n
	switch {
	case w.tailOff == w.head: // the tail follows the prefix: the whole file is held
		return w.buf[off:end]
	case off >= w.tailOff:
		return w.buf[w.head+off-w.tailOff : w.head+end-w.tailOff]
	}
	return nil
}

// prefix is at without the tail: ok is false when the bytes lie beyond the
// prefix's reach (and nothing is read).
func (w *elfWindow) prefix(off, n uint64) (b []byte, ok bool) {
	if w.err != nil || n > w.size || off > w.size-n {
		return nil, false
	}
	end := off + n
	switch {
	case end <= w.head:
		return w.buf[off:end], true
	case !w.tail && end <= maxELFHead:
		if w.grow(end); w.err != nil {
			return nil, false
		}
		return w.buf[off:end], true
	}
	return nil, false
}

// grow reads the prefix up to end.
func (w *elfWindow) grow(end uint64) {
	w.buf = w.ensure(end)
	if _, err := io.ReadFull(w.r, w.buf[w.head:end]); err != nil {
		w.err = err
		return
	}
	w.head = end
}

// readTail skips to the last maxELFTail bytes of the file, or what follows
// the prefix if less, and reads them.
func (w *elfWindow) readTail() {
	w.tail = true
	w.tailOff = w.head
	if w.size > maxELFTail {
		w.tailOff = max(w.head, w.size-maxELFTail)
	}
	if _, err := io.CopyN(io.Discard, w.r, int64(w.tailOff-w.head)); err != nil {
		w.err = err
		return
	}
	n := w.size - w.tailOff
	w.buf = w.ensure(w.head + n)
	if _, err := io.ReadFull(w.r, w.buf[w.head:w.head+n]); err != nil {
		w.err = err
	}
}

// ensure returns buf resliced to n bytes, keeping its contents.
func (w *elfWindow) ensure(n uint64) []byte {
	if uint64(cap(w.buf)) < n {
		c := max(n, min(max(2*uint64(cap(w.buf)), 4<<10), maxELFHead+maxELFTail))
		nb := make([]byte, n, c)
		copy(nb, w.buf)
		return nb
	}
	return w.buf[:n]
}

// elfLayout is where an ELF header says its program and section headers are.
type elfLayout struct {
	order                binary.ByteOrder
	is64                 bool
	phoff, shoff         uint64
	phentsize, shentsize uint64
	phnum, shnum         uint64
}

// layout reads the ELF header of the file in w, whose identification is id.
func (w *elfWindow) layout(id elfID) (elfLayout, bool) {
	l := elfLayout{order: binary.ByteOrder(binary.LittleEndian), is64: id.class == elf.ELFCLASS64}
	if id.data == elf.ELFDATA2MSB {
		l.order = binary.BigEndian
	}
	if l.is64 {
		var h elf.Header64
		if b := w.at(0, uint64(binary.Size(h))); b == nil || decode(b, l.order, &h) != nil {
			return l, false
		}
		l.phoff, l.shoff, l.phentsize, l.shentsize, l.phnum, l.shnum = h.Phoff, h.Shoff, uint64(h.Phentsize), uint64(h.Shentsize), uint64(h.Phnum), uint64(h.Shnum)
		return l, true
	}
	var h elf.Header32
	if b := w.at(0, uint64(binary.Size(h))); b == nil || decode(b, l.order, &h) != nil {
		return l, false
	}
	l.phoff, l.shoff, l.phentsize, l.shentsize, l.phnum, l.shnum = uint64(h.Phoff), uint64(h.Shoff), uint64(h.Phentsize), uint64(h.Shentsize), uint64(h.Phnum), uint64(h.Shnum)
	return l, true
}

func decode(b []byte, order binary.ByteOrder, v any) error {
	_, err := binary.Decode(b, order, v)
	return err
}

// segment is a program header's type, file range and alignment.
type segment struct {
	typ       elf.ProgType
	off, size uint64
	align     uint64
}

// segments returns the program headers, or nil when they lie beyond the
// prefix or are malformed.
func (w *elfWindow) segments(l elfLayout) []segment {
	if l.phoff == 0 || l.phnum == 0 || l.phnum == 0xffff { // 0xffff: PN_XNUM, the count is in section 0
		return nil
	}
	want := uint64(binary.Size(elf.Prog32{}))
	if l.is64 {
		want = uint64(binary.Size(elf.Prog64{}))
	}
	if l.phentsize < want {
		return nil
	}
	table, ok := w.prefix(l.phoff, l.phnum*l.phentsize)
	if !ok {
		return nil
	}
	out := make([]segment, 0, l.phnum)
	for i := uint64(0); i < l.phnum; i++ {
		b := table[i*l.phentsize:]
		if l.is64 {
			var p elf.Prog64
			decode(b, l.order, &p)
			out = append(out, segment{elf.ProgType(p.Type), p.Off, p.Filesz, p.Align})
		} else {
			var p elf.Prog32
			decode(b, l.order, &p)
			out = append(out, segment{elf.ProgType(p.Type), uint64(p.Off), uint64(p.Filesz), uint64(p.Align)})
		}
	}
	return out
}

// sectionOfType returns the contents of the first section of type typ, or
// nil when there is none or it (or the section headers) lie beyond the
// window. A section larger than max is not read.
func (w *elfWindow) sectionOfType(l elfLayout, typ elf.SectionType, max uint64) []byte {
	if l.shoff == 0 {
		return nil
	}
	want := uint64(binary.Size(elf.Section32{}))
	if l.is64 {
		want = uint64(binary.Size(elf.Section64{}))
	}
	if l.shentsize < want {
		return nil
	}
	shnum := l.shnum
	if shnum == 0 { // more than 0xff00 sections: the count is section 0's size
		s0 := w.at(l.shoff, want)
		if s0 == nil {
			return nil
		}
		shnum = w.sectionHeader(l, s0).size
	}
	if shnum > 1<<16 {
		return nil
	}
	table := w.at(l.shoff, shnum*l.shentsize)
	if table == nil {
		return nil
	}
	for i := uint64(0); i < shnum; i++ {
		s := w.sectionHeader(l, table[i*l.shentsize:])
		if s.typ == typ && s.size <= max {
			return w.at(s.off, s.size)
		}
	}
	return nil
}

type sectionHeader struct {
	typ       elf.SectionType
	off, size uint64
}

func (w *elfWindow) sectionHeader(l elfLayout, b []byte) sectionHeader {
	if l.is64 {
		var s elf.Section64
		decode(b, l.order, &s)
		return sectionHeader{elf.SectionType(s.Type), s.Off, s.Size}
	}
	var s elf.Section32
	decode(b, l.order, &s)
	return sectionHeader{elf.SectionType(s.Type), uint64(s.Off), uint64(s.Size)}
}
