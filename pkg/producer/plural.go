package producer

import "fmt"

// count says n of a noun in the right number: "1 attempt", "2 attempts".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
