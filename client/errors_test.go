package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/client"
)

// What a registry says when a manifest is absent, as go-containerregistry
// hands it back, and what it says otherwise.
func TestIsNotFound(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   bool
	}{
		{"404 without a body", http.StatusNotFound, "", true},
		{"MANIFEST_UNKNOWN with another status", http.StatusBadRequest, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, true},
		{"NAME_UNKNOWN", http.StatusBadRequest, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}`, true},
		{"401", http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}`, false},
		{"500", http.StatusInternalServerError, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/org/app:v1")
			if err != nil {
				t.Fatal(err)
			}
			_, err = remote.Get(ref, remote.WithContext(context.Background()), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
			if err == nil {
				t.Fatal("remote.Get succeeded")
			}
			if got := client.IsNotFound(err); got != tc.want {
				t.Errorf("IsNotFound(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
	if client.IsNotFound(errors.New("connection refused")) {
		t.Error("a network error counted as not found")
	}
}
