package prefix

import (
	"fmt"
	"time"
	_ "time/tzdata" // CustomTimeZone must resolve on hosts without zoneinfo.
)

// objectTimeLayout is yyyy-MM-dd-HH-mm-ss in Go's layout notation.
const objectTimeLayout = "2006-01-02-15-04-05"

// ObjectTime formats t in loc (nil means UTC) as yyyy-MM-dd-HH-mm-ss, the
// time in the object-name suffix <name>-<VersionId>-<time>-<uuid><ext>.
func ObjectTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(objectTimeLayout)
}

// Location resolves a CustomTimeZone: empty means UTC, anything else is an
// IANA zone name such as "Asia/Tokyo". "Local" is refused: it would name the
// server's zone. Errors are *Error values of kind ErrUnknownTimeZone.
func Location(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name != "Local" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc, nil
		}
	}
	return nil, &Error{Kind: ErrUnknownTimeZone, Field: "CustomTimeZone",
		Message: fmt.Sprintf("CustomTimeZone %q is not a known time zone", name)}
}
