package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag holding a size in bytes: a whole number with an
// optional binary unit (B, KiB, MiB, GiB, TiB; "4MiB", "10GiB",
// "1048576"). 0 means the default and a negative number no limit, as the
// bus's Config reads them.
type byteSize struct {
	n   int64
	max int64 // the largest value accepted
}

var units = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

// String writes the size with the largest unit that divides it.
func (s *byteSize) String() string {
	if s == nil || s.n <= 0 {
		if s == nil {
			return "0"
		}
		return strconv.FormatInt(s.n, 10)
	}
	for _, u := range units {
		if u.shift > 0 && s.n%(1<<u.shift) == 0 {
			return strconv.FormatInt(s.n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(s.n, 10)
}

// Set reads a size.
func (s *byteSize) Set(v string) error {
	num, shift := strings.TrimSpace(v), uint(0)
	for _, u := range units {
		if strings.HasSuffix(strings.ToLower(num), strings.ToLower(u.suffix)) {
			num, shift = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a size (a whole number of bytes, or with KiB, MiB, GiB)", v)
	}
	if n > 0 && (n > s.max>>shift || n<<shift > s.max) {
		return fmt.Errorf("%q is more than %s", v, (&byteSize{n: s.max}).String())
	}
	if n < 0 {
		s.n = -1
		return nil
	}
	s.n = n << shift
	return nil
}
