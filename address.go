package mediaserver

import (
	"fmt"
	"strings"
)

// parseUser returns the user part of a SIP/SIPS/TEL URI, or addr itself
// when it is a bare number or name.
func parseUser(addr string) (string, error) {
	a := strings.TrimSpace(addr)
	if i := strings.IndexByte(a, '<'); i >= 0 {
		j := strings.IndexByte(a[i:], '>')
		if j < 0 {
			return "", fmt.Errorf("address %q: unbalanced <: %w", addr, ErrInvalid)
		}
		a = a[i+1 : i+j]
	}
	lower := strings.ToLower(a)
	switch {
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		rest := a[strings.IndexByte(a, ':')+1:]
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			return "", nil
		}
		user := rest[:at]
		if k := strings.IndexAny(user, ":;"); k >= 0 { // password or user params
			user = user[:k]
		}
		return user, nil
	case strings.HasPrefix(lower, "tel:"):
		num := a[4:]
		if k := strings.IndexByte(num, ';'); k >= 0 {
			num = num[:k]
		}
		return num, nil
	}
	if k := strings.IndexByte(a, '@'); k >= 0 {
		return a[:k], nil
	}
	return a, nil
}
