package client_test

import (
	"testing"

	"github.com/polyarch/polyarch/client"
)

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "LOCALHOST:5000": true,
		"127.0.0.1": true, "127.0.0.1:5000": true, "127.8.9.10:443": true,
		"::1": true, "[::1]": true, "[::1]:5000": true,
		"ghcr.io": false, "ghcr.io:443": false, "10.0.0.7:5000": false, "192.168.1.2": false,
		"localhost.example:5000": false, "registry.local": false, "": false, ":5000": false,
	} {
		if got := client.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
