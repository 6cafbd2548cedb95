package model

import "strconv"

// FormatSize writes n bytes with the largest binary unit that divides it:
// 16MiB, 512KiB, 1000B. Config files and limit errors spell sizes this way.
func FormatSize(n int64) string {
	for _, u := range []struct {
		n    int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
