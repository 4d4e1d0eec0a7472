package prefix

import (
	"fmt"
	"strconv"
)

// field is one element of a compiled timestamp pattern.
type field uint8

const (
	fieldLiteral field = iota
	fieldYear          // zero-padded to width
	fieldYear2         // two-digit year
	fieldMonth         // 1-12, zero-padded to width
	fieldDay           // 1-31
	fieldHour          // 0-23
	fieldMinute        // 0-59
	fieldSecond        // 0-59
)

// maxYearWidth is the widest year Java's DateTimeFormatter accepts.
const maxYearWidth = 19

// item is one compiled element of a timestamp pattern: a literal or a field.
type item struct {
	field field
	width int
	lit   string
}

// clock is a broken-down instant, computed once per evaluation.
type clock struct {
	year, month, day, hour, minute, second int
}

// compilePattern compiles the subset of Java DateTimeFormatter patterns that
// Firehose users write. expr is the whole expression, quoted in errors.
func compilePattern(p, expr string) ([]item, error) {
	var items []item
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			items = append(items, item{field: fieldLiteral, lit: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				lit = append(lit, '\'')
				i += 2
				continue
			}
			j := i + 1
			for {
				if j >= len(p) {
					return nil, patternError("unterminated quoted text in %s", expr)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						lit = append(lit, '\'')
						j += 2
						continue
					}
					break
				}
				lit = append(lit, p[j])
				j++
			}
			i = j + 1
		case isLetter(c):
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			it, err := letterItem(c, n, expr)
			if err != nil {
				return nil, err
			}
			flush()
			items = append(items, it)
			i += n
		case c == '[' || c == ']' || c == '#' || c == '{' || c == '}':
			return nil, patternError("unsupported pattern character '%c' in %s", c, expr)
		default:
			lit = append(lit, c)
			i++
		}
	}
	flush()
	return items, nil
}

func letterItem(c byte, n int, expr string) (item, error) {
	switch c {
	case 'y', 'u':
		switch {
		case n == 2:
			return item{field: fieldYear2, width: 2}, nil
		case n > maxYearWidth:
			return item{}, patternError("too many pattern letters '%c' in %s", c, expr)
		}
		return item{field: fieldYear, width: n}, nil
	case 'M', 'd', 'H', 'm', 's':
		if n > 2 {
			if c == 'M' {
				return item{}, patternError("unsupported pattern letters %q (text months) in %s", string(repeat(c, n)), expr)
			}
			return item{}, patternError("too many pattern letters '%c' in %s", c, expr)
		}
		return item{field: numericFields[c], width: n}, nil
	}
	return item{}, patternError("unsupported pattern letter '%c' in %s", c, expr)
}

// numericFields maps the two-digit pattern letters to their fields.
var numericFields = [256]field{'M': fieldMonth, 'd': fieldDay, 'H': fieldHour, 'm': fieldMinute, 's': fieldSecond}

func repeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func patternError(format string, args ...any) error {
	return &Error{Kind: ErrPattern, Message: fmt.Sprintf(format, args...)}
}

// appendTimestamp appends the compiled pattern evaluated at c.
func appendTimestamp(b []byte, items []item, c *clock) []byte {
	for i := range items {
		it := &items[i]
		switch it.field {
		case fieldLiteral:
			b = append(b, it.lit...)
		case fieldYear:
			b = appendPadded(b, c.year, it.width)
		case fieldYear2:
			b = appendPadded(b, ((c.year%100)+100)%100, 2)
		case fieldMonth:
			b = appendPadded(b, c.month, it.width)
		case fieldDay:
			b = appendPadded(b, c.day, it.width)
		case fieldHour:
			b = appendPadded(b, c.hour, it.width)
		case fieldMinute:
			b = appendPadded(b, c.minute, it.width)
		case fieldSecond:
			b = appendPadded(b, c.second, it.width)
		}
	}
	return b
}

// appendPadded appends v in decimal, zero-padded to at least width digits.
func appendPadded(b []byte, v, width int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	digits := 1
	for x := v; x >= 10; x /= 10 {
		digits++
	}
	for ; digits < width; digits++ {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(v), 10)
}
