package feedhttp_test

import (
	"strings"
	"testing"

	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
)

func TestEveryCountryHasItsName(t *testing.T) {
	for _, cc := range feedgen.CampaignCountries(60) {
		if n := feedhttp.CountryName(cc); n == "" || n == strings.ToUpper(cc) {
			t.Errorf("%s shows as %q", cc, n)
		}
	}
	for cc, want := range map[string]string{"ma": "Morocco", "ci": "Côte d’Ivoire", "la": "Laos", "hub": "Hub services", "zz": "ZZ", "eu": "EU"} {
		if got := feedhttp.CountryName(cc); got != want {
			t.Errorf("%s shows as %q, want %q", cc, got, want)
		}
	}
}
