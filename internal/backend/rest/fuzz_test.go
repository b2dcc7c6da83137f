package rest_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend/rest"
)

// FuzzStripPassword checks that ParseConfig and StripPassword never panic
// and that a password in a location never survives StripPassword.
func FuzzStripPassword(f *testing.F) {
	for _, s := range []string{"rest:http://u:secret@h:8000/r/", "rest:https://h/", "rest:http://u:p%40ss@h/", "rest:http://a:b@c@d/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, location string) {
		_, _ = rest.ParseConfig(location)
		stripped := rest.StripPassword(location)
		u, err := url.Parse(strings.TrimPrefix(location, "rest:"))
		if err != nil || u.User == nil {
			return
		}
		pass, ok := u.User.Password()
		if !ok || len(pass) < 4 || strings.Contains(u.Host+u.Path+u.User.Username(), pass) {
			return // too short or too common to search for
		}
		if strings.Contains(stripped, pass) || strings.Contains(stripped, url.PathEscape(pass)) || strings.Contains(stripped, url.QueryEscape(pass)) {
			t.Fatalf("StripPassword(%q) = %q still shows the password %q", location, stripped, pass)
		}
	})
}
