package sigv4

import "io"

// Read delivers the body, hashing what passes. The read that would deliver the last byte
// compares the signature first and, on a mismatch, delivers nothing (and clears what it read
// into p) but the error, then and on every later call: a handler never holds a whole body that
// was not signed.
func (s *verification) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.verified {
		// Everything signed was delivered: a further byte is a body longer than its
		// Content-Length (only a request built in process can have one; Go's server stops
		// at the length).
		n, err := s.rc.Read(s.probe[:])
		if n > 0 {
			s.err = invalid(msgBodyTooLong)
			return 0, s.err
		}
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.remaining >= 0 {
		return s.readKnown(p)
	}
	return s.readUnknown(p)
}

// readKnown reads a body of known length: at most what is due, so that the read that brings
// the last byte is known.
func (s *verification) readKnown(p []byte) (int, error) {
	if int64(len(p)) > s.remaining {
		p = p[:s.remaining]
	}
	n, err := s.rc.Read(p)
	s.payload.Write(p[:n])
	s.remaining -= int64(n)
	if s.remaining == 0 {
		return s.end(p[:n])
	}
	if err == io.EOF {
		// Fewer bytes than Content-Length: what was delivered is not the signed body, and
		// the handler learns that the body is cut short.
		s.err = io.ErrUnexpectedEOF
		return n, s.err
	}
	return n, err
}

// readUnknown reads a body of unknown length (chunked), holding its last byte back until the
// stream ends: only then is it known to be the last.
func (s *verification) readUnknown(p []byte) (int, error) {
	for {
		if s.hasAhead && len(p) == 1 {
			return s.readOne(p)
		}
		var n int
		var err error
		if s.hasAhead {
			p[0] = s.ahead[0]
			n, err = s.rc.Read(p[1:])
			if n == 0 && err == nil {
				p[0] = 0
				return 0, nil // no progress; keep holding the byte
			}
			n++
		} else {
			n, err = s.rc.Read(p)
		}
		if err == io.EOF {
			s.hasAhead = false
			s.payload.Write(p[:n])
			return s.end(p[:n])
		}
		if n == 0 {
			return 0, err
		}
		s.payload.Write(p[:n-1])
		s.ahead[0], s.hasAhead = p[n-1], true
		p[n-1] = 0
		if n > 1 || err != nil {
			return n - 1, err
		}
		// Only the held byte came: read again rather than deliver nothing.
	}
}

// readOne serves a one-byte read while a byte is held: it reads one more to learn whether the
// held byte is the last.
func (s *verification) readOne(p []byte) (int, error) {
	n, err := s.rc.Read(s.probe[:])
	switch {
	case n == 1:
		s.payload.Write(s.ahead[:])
		p[0], s.ahead[0] = s.ahead[0], s.probe[0]
		return 1, nil
	case err == io.EOF:
		p[0] = s.ahead[0]
		s.hasAhead = false
		s.payload.Write(p[:1])
		return s.end(p[:1])
	}
	return 0, err
}

// end compares the signature once the last byte, at the end of last, has been hashed.
func (s *verification) end(last []byte) (int, error) {
	s.payload.Sum(s.psum[:0])
	if err := s.finish(s.psum); err != nil {
		clear(last)
		s.err = err
		return 0, err
	}
	s.verified = true
	return len(last), nil
}

// Close closes the request's body.
func (s *verification) Close() error { return s.rc.Close() }
