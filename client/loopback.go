package client

import (
	"net"
	"strings"
)

// IsLoopback reports whether a registry host ("host" or "host:port") names
// this machine only: localhost, 127.0.0.0/8 or ::1 ("[::1]:5000"), with any
// port. Such registries are spoken to over plain HTTP without being asked;
// builders told where to push use the same rule.
func IsLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
