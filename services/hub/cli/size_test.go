package cli

import "testing"

func TestASizeFlagReadsBytesWithBinaryUnits(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
		out  string
	}{
		{"1048576", 1 << 20, true, "1MiB"},
		{"4MiB", 4 << 20, true, "4MiB"},
		{"1GiB", 1 << 30, true, "1GiB"},
		{"1 gib", 1 << 30, true, "1GiB"},
		{"512KiB", 512 << 10, true, "512KiB"},
		{"1000", 1000, true, "1000"},
		{"0", 0, true, "0"},
		{"-1", -1, true, "-1"},
		{"-3MiB", -1, true, "-1"},
		{"2GiB", 0, false, ""}, // above the 1 GiB maximum
		{"4MB", 0, false, ""},  // decimal units are not binary ones
		{"lots", 0, false, ""},
		{"1.5GiB", 0, false, ""},
		{"9999999999999GiB", 0, false, ""}, // would overflow
	} {
		s := &byteSize{max: 1 << 30}
		err := s.Set(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("Set(%q): %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (s.n != tt.want || s.String() != tt.out) {
			t.Errorf("Set(%q) = %d (%s), want %d (%s)", tt.in, s.n, s.String(), tt.want, tt.out)
		}
	}
}
