package feedhttp

import (
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/dpihub/dpihub/events"
)

// regionNames gives English names of ISO 3166-1 regions, from the CLDR
// data that golang.org/x/text keeps up to date: the UI names every
// country, not only those someone listed.
var regionNames = display.English.Regions()

// countryName is the English name of a country code ("ma": "Morocco"),
// "Hub services" for the hub, or the code in upper case when it names no
// country (the feed still shows it, so it never hides an event).
func countryName(cc string) string {
	if cc == events.HubCountry {
		return "Hub services"
	}
	r, err := language.ParseRegion(cc)
	if err != nil || !r.IsCountry() {
		return strings.ToUpper(cc)
	}
	if n := regionNames.Name(r); n != "" {
		return n
	}
	return strings.ToUpper(cc)
}
