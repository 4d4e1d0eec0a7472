package listen

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:4573", true},
		{"127.5.6.7:1", true},
		{"[::1]:80", true},
		{"localhost:4573", true},
		{"LocalHost:4573", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"0.0.0.0:4573", false},
		{":4573", false},
		{"[::]:80", false},
		{"10.0.0.1:80", false},
		{"128.0.0.1:80", false},
		{"[::2]:80", false},
		{"example.com:80", false},
		{"localhost.example.com:80", false},
		{"127.0.0.1", false}, // not host:port
		{"garbage", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := IsLoopback(tt.addr); got != tt.want {
				t.Errorf("IsLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestPeerIsLoopback(t *testing.T) {
	tests := []struct {
		remote string
		want   bool
	}{
		{"127.0.0.1:4573", true},
		{"127.5.6.7:1", true},
		{"[::1]:80", true},
		{"[::ffff:127.0.0.1]:80", true},
		// A peer's address is an IP address: a name is never trusted as loopback.
		{"localhost:4573", false},
		{"0.0.0.0:4573", false},
		{":4573", false},
		{"[::]:80", false},
		{"10.0.0.1:80", false},
		{"example.com:80", false},
		{"garbage", false},
		{"", false},
		{"@", false}, // a Unix socket's peer
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			if got := PeerIsLoopback(r); got != tt.want {
				t.Errorf("PeerIsLoopback(RemoteAddr %q) = %v, want %v", tt.remote, got, tt.want)
			}
		})
	}
}

// TestPeerIsLoopbackConnection asks over a real connection from 127.0.0.1.
func TestPeerIsLoopbackConnection(t *testing.T) {
	got := make(chan bool, 1)
	addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- PeerIsLoopback(r)
	}), Config{}, nil, nil)
	if a := get(t, testClient(t, &http.Transport{}), "http://"+addr+"/"); a.Status != http.StatusOK {
		t.Fatalf("status = %d", a.Status)
	}
	if !<-got {
		t.Error("PeerIsLoopback = false for a connection from 127.0.0.1")
	}
}
