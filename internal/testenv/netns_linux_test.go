//go:build linux

package testenv

import (
	"io"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// TestNetLab serves HTTP inside one host, reaches it from the test and from another host, cuts
// the two hosts apart (the test still reaches both), and heals the cut.
func TestNetLab(t *testing.T) {
	if testing.Short() {
		t.Skip("builds network namespaces")
	}
	lab := NewNetLab(t)
	a, b := lab.AddHost(t, "a"), lab.AddHost(t, "b")
	ln, err := a.Listen("tcp", a.Addr(8080))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	hc := lab.HTTPClient(2 * time.Second)
	get := func() error {
		resp, err := hc.Get("http://" + a.Addr(8080) + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "hi" {
			t.Fatalf("body %q", body)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("from the bridge: %v", err)
	}
	fromB := func() error {
		return exec.Command("ip", "netns", "exec", b.NS, "bash", "-c", "exec 3<>/dev/tcp/"+a.IP+"/8080").Run()
	}
	if err := fromB(); err != nil {
		t.Fatalf("from b: %v", err)
	}
	a.Cut(t, b)
	if err := exec.Command("ip", "netns", "exec", b.NS, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/"+a.IP+"/8080").Run(); err == nil {
		t.Fatal("b reaches a across the cut")
	}
	if err := get(); err != nil {
		t.Fatalf("from the bridge during the cut: %v", err)
	}
	if n := a.Dropped(t); n == 0 {
		t.Error("the cut dropped no packet")
	}
	a.Heal(t)
	if err := fromB(); err != nil {
		t.Fatalf("from b after healing: %v", err)
	}
}
