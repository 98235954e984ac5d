package feedhttp

import (
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// CSVColumns is the header row of /api/v1/events.csv.
var CSVColumns = []string{"id", "seq", "time", "country", "project", "type", "summary"}

// maxCSVRows bounds an export without limit.
const maxCSVRows = 100_000

// csvEvents writes the events as CSV. With limit (and cursor) it writes
// that page, like the JSON API; without limit it writes every matching
// event, newest first, up to maxCSVRows.
func (s *server) csvEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	all := r.URL.Query().Get("limit") == ""
	if all {
		q.Limit = events.MaxPageLimit
	}
	// Ask for the first page before writing anything, so a bad query or
	// cursor is still a problem+json, not a truncated CSV.
	p, err := s.st.Events(r.Context(), q)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	w.Header().Set("Content-Disposition", `attachment; filename="dpihub-events.csv"`)
	// A page (limit given) names the next one in Link, as the JSON API
	// does. An export of everything stops at maxCSVRows; when it does, the
	// trailer Link names where to go on from.
	if !all && p.Next != "" {
		w.Header().Set("Link", csvNext(r, p.Next))
	}
	if all {
		w.Header().Set("Trailer", "Link")
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVColumns)
	rows := 0
	for {
		for _, e := range p.Events {
			_ = cw.Write([]string{
				e.ID, strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano),
				e.Country, e.Project, e.Type, e.Summary,
			})
			rows++
		}
		if !all || p.Next == "" {
			break
		}
		if rows >= maxCSVRows {
			w.Header().Set("Link", csvNext(r, p.Next))
			break
		}
		q.Cursor = p.Next
		if p, err = s.st.Events(r.Context(), q); err != nil {
			// The header is out: the CSV ends short, and a failure of
			// the feed goes to the log.
			if _, internal := problem.For(err); internal {
				s.log.Error("CSV export ends short", zap.String("uri", r.URL.RequestURI()), zap.Error(err))
			}
			break
		}
	}
	cw.Flush()
}

// csvNext is the Link to the CSV page after cursor, with r's filters.
func csvNext(r *http.Request, cursor string) string {
	next := r.URL.Query()
	next.Set("cursor", cursor)
	if next.Get("limit") == "" {
		next.Set("limit", strconv.Itoa(events.MaxPageLimit))
	}
	return fmt.Sprintf("</api/v1/events.csv?%s>; rel=\"next\"", next.Encode())
}

// Atom (RFC 4287) elements, as much of them as the feed fills.
type atomFeed struct {
	XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Subtitle  string      `xml:"subtitle,omitempty"`
	Updated   string      `xml:"updated"`
	Links     []atomLink  `xml:"link"`
	Author    atomPerson  `xml:"author"`
	Generator string      `xml:"generator"`
	Entries   []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomCategory struct {
	Term  string `xml:"term,attr"`
	Label string `xml:"label,attr,omitempty"`
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published"`
	Author     atomPerson     `xml:"author"`
	Categories []atomCategory `xml:"category"`
	Links      []atomLink     `xml:"link"`
	Summary    atomText       `xml:"summary"`
}

// atomTime is the date-time format of RFC 3339 that Atom requires.
func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// baseURL is the absolute URL that links start with, from the request.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// EntryID is an event's Atom entry id: a tag URI (RFC 4151) of its
// source and id, stable, so the same event is the same entry in every
// feed. An event is its source and id together: an id alone (even a
// UUID) may be another source's too, and a reader would take the second
// entry for an update of the first.
func EntryID(source, id string) string {
	return "tag:dpihub,2025:event:" + url.PathEscape(source) + "/" + url.PathEscape(id)
}

// atom answers the events as an Atom feed: any search is a feed, so a
// saved search is a subscription.
func (s *server) atom(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	p, err := s.st.Events(r.Context(), q)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	base := baseURL(r)
	filters := encodeQuery(q, false).Encode()
	self := base + "/feed.atom"
	html := base + "/"
	id := "tag:dpihub,2025:feed"
	if filters != "" {
		self += "?" + filters
		html += "?" + filters
		id += "?" + filters
	}
	f := atomFeed{
		ID:       id,
		Title:    feedTitle(q),
		Subtitle: "Verified events of every country's DPI node, newest first.",
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: self},
			{Rel: "alternate", Type: "text/html", Href: html},
		},
		Author:    atomPerson{Name: "dpihub feed", URI: base + "/"},
		Generator: "dpihub feed",
	}
	if p.Next != "" {
		next := encodeQuery(q, false)
		next.Set("cursor", p.Next)
		if q.Limit != events.DefaultPageLimit {
			next.Set("limit", strconv.Itoa(q.Limit))
		}
		f.Links = append(f.Links, atomLink{Rel: "next", Type: "application/atom+xml", Href: base + "/feed.atom?" + next.Encode()})
	}
	updated := time.Time{}
	for _, e := range p.Events {
		if e.Time.After(updated) {
			updated = e.Time
		}
		title := e.Summary
		if title == "" {
			title = events.ShortType(e.Type)
		}
		entry := atomEntry{
			ID:        EntryID(e.Source, e.ID),
			Title:     "[" + strings.ToUpper(e.Country) + "] " + title,
			Updated:   atomTime(e.Time),
			Published: atomTime(e.Time),
			Author:    atomPerson{Name: countryName(e.Country) + " (" + e.Source + ")"},
			Categories: []atomCategory{
				{Term: e.Type, Label: events.ShortType(e.Type)},
				{Term: "country:" + e.Country, Label: countryName(e.Country)},
			},
			Links:   []atomLink{{Rel: "alternate", Type: "text/html", Href: base + eventLink(e)}},
			Summary: atomText{Type: "text", Body: entrySummary(e)},
		}
		if e.Project != "" {
			entry.Categories = append(entry.Categories, atomCategory{Term: "project:" + e.Project, Label: e.Project})
		}
		f.Entries = append(f.Entries, entry)
	}
	if updated.IsZero() {
		updated = s.now()
	}
	f.Updated = atomTime(updated)

	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		s.log.Sugar().Warnw("write atom", "error", err)
	}
}

// feedTitle names a search in words: "dpihub: fix.published from MA".
func feedTitle(q feed.Query) string {
	var parts []string
	if q.Type != "" {
		parts = append(parts, events.ShortType(q.Type))
	} else {
		parts = append(parts, "events")
	}
	if q.Country != "" {
		parts = append(parts, "from "+strings.ToUpper(q.Country))
	}
	if q.Project != "" {
		parts = append(parts, "in "+q.Project)
	}
	if q.Q != "" {
		parts = append(parts, "matching “"+q.Q+"”")
	}
	return "dpihub: " + strings.Join(parts, " ")
}

// entrySummary is the summary of an event with where it came from.
func entrySummary(e feed.Event) string {
	s := e.Summary
	if s == "" {
		s = events.ShortType(e.Type)
	}
	s = countryName(e.Country) + ": " + s
	if e.Project != "" {
		s += " (" + e.Project + ")"
	}
	return s
}

// refs are the ids an event's payload names, for links.
type refs struct {
	FixID      string `json:"fix_id"`
	ProposalID string `json:"proposal_id"`
}

func eventRefs(e feed.Event) refs {
	var r refs
	_ = json.Unmarshal(e.Data, &r)
	return r
}

// eventLink is the UI page that shows an event best (a path).
func eventLink(e feed.Event) string {
	spec, _ := events.Lookup(e.Type)
	ref := eventRefs(e)
	switch {
	case spec.Kind == "fix" && spec.Verb == "duplicate.detected":
		return "/duplicates"
	case spec.Kind == "fix" && ref.FixID != "":
		return "/fixes/" + url.PathEscape(ref.FixID)
	case spec.Kind == "proposal" && spec.Verb == "duplicate.detected":
		return "/duplicates"
	case spec.Kind == "proposal" && ref.ProposalID != "":
		return "/proposals?project=" + url.QueryEscape(e.Project) + "#" + proposalAnchor(ref.ProposalID)
	case spec.Kind == "fork" && spec.Verb == "duplicate.detected":
		return "/duplicates"
	case spec.Kind == "node":
		return "/countries#" + countryAnchor(e.Country)
	}
	v := url.Values{}
	v.Set("country", e.Country)
	if e.Project != "" {
		v.Set("project", e.Project)
	}
	return "/?" + v.Encode()
}

func proposalAnchor(id string) string { return "proposal-" + anchorSafe(id) }
func countryAnchor(cc string) string  { return "country-" + anchorSafe(cc) }

func anchorSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
