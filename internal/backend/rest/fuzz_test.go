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
		// The output must not depend on the password: swap the password
		// as written in the location for another and compare.
		pass, ok := u.User.Password()
		if !ok || pass == "" {
			return
		}
		_, raw, _ := strings.Cut(u.User.String(), ":")
		written := ":" + raw + "@"
		if strings.Count(location, written) != 1 {
			return // written in a form we cannot swap safely
		}
		other := strings.Replace(location, written, ":QzXw7@", 1)
		ou, err := url.Parse(strings.TrimPrefix(other, "rest:"))
		if err != nil || ou.User == nil || ou.User.Username() != u.User.Username() || ou.Scheme != u.Scheme ||
			ou.Host != u.Host || ou.Path != u.Path || ou.RawQuery != u.RawQuery || ou.Fragment != u.Fragment {
			return // the swap changed more than the password
		}
		if p, _ := ou.User.Password(); p != "QzXw7" {
			return
		}
		if got := rest.StripPassword(other); got != stripped {
			t.Fatalf("StripPassword depends on the password: %q gives %q, %q gives %q", location, stripped, other, got)
		}
	})
}
