package registry

import (
	"fmt"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	"github.com/distribution/reference"
	"github.com/gorilla/mux"
)

// Repository names distribution v3.1.2 mishandles.
//
// distribution checks a name with reference.WithName, which measures only the
// part after what looks like a domain: in "org/<252 letters>" it takes "org"
// for a domain, so a 256-character name is accepted and stored. And when
// WithName does refuse a name, the app answers with a plain Go error that
// errcode turns into 500 UNKNOWN. The OCI distribution spec bounds the whole
// <name> and wants 400 NAME_INVALID; this layer answers that before
// distribution sees the request.

// nameCheck answers 400 NAME_INVALID for a request whose repository name
// distribution would accept wrongly or answer 500 for. prefix is http.prefix.
func nameCheck(next http.Handler, prefix string) http.Handler {
	// distribution's own router, so the name is cut out of the path exactly
	// as distribution cuts it.
	router := v2.RouterWithPrefix(prefix)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var name string
		var m mux.RouteMatch
		if router.Match(r, &m) {
			name = m.Vars["name"]
		} else if n, _, ok := splitRoute(r.URL.Path, "/referrers/"); ok {
			name = n
		}
		if name != "" {
			if err := validName(name); err != nil {
				serveError(w, errcode.ErrorCodeNameInvalid.WithDetail(map[string]string{"name": name, "reason": err.Error()}))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// validName reports why distribution must not be given name.
func validName(name string) error {
	if len(name) > reference.RepositoryNameTotalLengthMax {
		return fmt.Errorf("repository name is %d characters long, more than %d", len(name), reference.RepositoryNameTotalLengthMax)
	}
	if _, err := reference.WithName(name); err != nil {
		return err
	}
	return nil
}
