package listen

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// IsLoopback reports whether the listen address addr (host:port) is reachable only from this
// machine: its host is in 127.0.0.0/8, is ::1, or is the name localhost. An empty host,
// 0.0.0.0 or :: (every interface), any other name (it may resolve anywhere) and an address
// that is not host:port are not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	return isLoopbackIP(host)
}

// PeerIsLoopback reports whether r came from a loopback address, by r.RemoteAddr. A RemoteAddr
// that is not an IP address and port (none is set by net/http) is not loopback.
func PeerIsLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	return isLoopbackIP(host)
}

func isLoopbackIP(host string) bool {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	// ::ffff:127.0.0.1 is 127.0.0.1 on a dual-stack socket.
	return ip.Unmap().IsLoopback()
}
