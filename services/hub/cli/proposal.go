package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/sign"
)

// proposal: dpihub proposal submit|endorse|object|comment|withdraw|list|show.
func proposalCmd(ctx context.Context, env Env, args []string) error {
	sub := map[string]func(context.Context, Env, []string) error{
		"submit": proposalSubmit, "endorse": proposalVote("endorse"), "object": proposalVote("object"),
		"comment": proposalVote("comment"), "withdraw": proposalWithdraw, "list": proposalList, "show": proposalShow,
		"implemented": proposalImplemented,
	}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprintln(env.Stderr, "usage: dpihub proposal submit|endorse|object|comment|withdraw|list|show|implemented [flags] (dpihub proposal <verb> -h for each)")
		return errUsage
	}
	return sub[args[0]](ctx, env, args[1:])
}

// apiFlag is the hub's HTTP address, where the feed and the proposals
// service answer.
func apiFlag(fs *flag.FlagSet) *string {
	return fs.String("api", "http://127.0.0.1:8080", "HTTP address of the hub (its feed and proposals service)")
}

// publisherFlags are what publishing a country's event takes.
type publisherFlags struct {
	hub     hubFlags
	key     *string
	project *string
	api     *string
}

func addPublisherFlags(fs *flag.FlagSet) publisherFlags {
	return publisherFlags{hub: addHubFlags(fs), key: fs.String("key", "", "the country's private key file (dpihub keys gen)"),
		project: fs.String("project", "", "the upstream project slug (default: the proposal's, asked of --api)"), api: apiFlag(fs)}
}

// publish signs p as the key's country and publishes it about project.
func (f publisherFlags) publish(ctx context.Context, env Env, project string, p events.Payload) error {
	e, seq, signer, err := signAndPublish(ctx, f.hub, "dpihub proposal", *f.key, "cli", project, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s %s: %s as stream seq %d (signed with %s)\n", signer.Country(), events.ShortType(e.Type()), events.DescribePayload(p), seq, signer.KeyID())
	return nil
}

func proposalSubmit(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "proposal submit")
	f := addPublisherFlags(fs)
	title := fs.String("title", "", "the proposal's title (required)")
	body := fs.String("body", "", "file of the proposal's body, Markdown (- for stdin; required)")
	id := fs.String("id", "", "the proposal's id (default <country>-prop-<random>)")
	labels := fs.String("labels", "", "comma-separated labels")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *title == "" || *body == "" || *f.project == "" {
		return errors.New("--title, --body and --project are required")
	}
	text, err := readArg(env, *body)
	if err != nil {
		return err
	}
	if *id == "" {
		k, err := sign.ReadPrivateKey(*f.key)
		if err != nil {
			return err
		}
		*id = k.Country + "-prop-" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")[:12]
	}
	var ls []string
	for _, l := range strings.Split(*labels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			ls = append(ls, l)
		}
	}
	return f.publish(ctx, env, *f.project, events.ProposalSubmitted{ProposalID: *id, Title: *title, Body: string(text), Labels: ls})
}

// proposalVote: endorse, object and comment take a proposal id and a text.
func proposalVote(verb string) func(context.Context, Env, []string) error {
	return func(ctx context.Context, env Env, args []string) error {
		fs := flags(env, "proposal "+verb)
		f := addPublisherFlags(fs)
		text := fs.String("text", "", map[string]string{"endorse": "a comment (optional)", "object": "the reason (required)", "comment": "the comment (required)"}[verb])
		if err := parse(fs, env, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fmt.Fprintf(env.Stderr, "usage: dpihub proposal %s --key FILE [--project SLUG] [--text TEXT] PROPOSAL-ID\n", verb)
			return errUsage
		}
		id := fs.Arg(0)
		if verb != "endorse" && strings.TrimSpace(*text) == "" {
			return fmt.Errorf("--text is required: %s", map[string]string{"object": "say why you object", "comment": "the comment"}[verb])
		}
		project, _, err := f.where(ctx, id)
		if err != nil {
			return err
		}
		var p events.Payload
		switch verb {
		case "endorse":
			p = events.ProposalEndorsed{ProposalID: id, Comment: *text}
		case "object":
			p = events.ProposalObjected{ProposalID: id, Reason: *text}
		default:
			p = events.ProposalCommented{ProposalID: id, Comment: *text}
		}
		return f.publish(ctx, env, project, p)
	}
}

func proposalWithdraw(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "proposal withdraw")
	f := addPublisherFlags(fs)
	reason := fs.String("reason", "", "why (optional)")
	from := fs.String("from", "", "the proposal's status now (default: asked of --api)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: dpihub proposal withdraw --key FILE [--project SLUG] [--reason TEXT] PROPOSAL-ID")
		return errUsage
	}
	id := fs.Arg(0)
	project, status, err := f.where(ctx, id)
	if err != nil {
		return err
	}
	if *from != "" {
		status = *from
	}
	if status == "" {
		status = events.ProposalOpen
	}
	return f.publish(ctx, env, project, events.ProposalStatusChanged{ProposalID: id, From: status, To: events.ProposalWithdrawn, Reason: *reason})
}

// where returns proposal id's project (--project, else the proposals
// service's word) and its status (the service's, "" if not asked).
func (f publisherFlags) where(ctx context.Context, id string) (project, status string, err error) {
	var p struct {
		Project string `json:"project"`
		Status  string `json:"status"`
	}
	err = getJSON(ctx, *f.api+"/api/v1/governance/proposals/"+url.PathEscape(id), "", &p)
	switch {
	case err == nil && *f.project != "" && p.Project != *f.project:
		return "", "", fmt.Errorf("proposal %s is about %s, not %s", id, p.Project, *f.project)
	case err == nil:
		return p.Project, p.Status, nil
	case *f.project != "":
		return *f.project, "", nil
	}
	return "", "", fmt.Errorf("which project is %s about? give --project (%v)", id, err)
}

// proposalImplemented: an upstream maintainer marks a proposal implemented.
func proposalImplemented(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "proposal implemented")
	api := apiFlag(fs)
	tokenFile := fs.String("token-file", "", "file of your maintainer token (or the proposals service's)")
	reason := fs.String("reason", "", "e.g. the upstream release or pull request")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: dpihub proposal implemented --token-file FILE [--reason TEXT] PROPOSAL-ID")
		return errUsage
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return err
	}
	var d struct {
		From    string `json:"from"`
		EventID string `json:"event_id"`
	}
	if err := doJSON(ctx, http.MethodPost, *api+"/api/v1/proposals/"+url.PathEscape(fs.Arg(0))+"/implemented", token,
		map[string]string{"reason": *reason}, http.StatusAccepted, &d); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %s -> implemented (event %s)\n", fs.Arg(0), d.From, d.EventID)
	return nil
}

func proposalList(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "proposal list")
	api := apiFlag(fs)
	project := fs.String("project", "", "only this project's")
	status := fs.String("status", "", "only proposals in this status: "+strings.Join(events.ProposalStatuses(), ", "))
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	q := url.Values{}
	if *project != "" {
		q.Set("project", *project)
	}
	q.Set("sort", "support")
	var page []struct {
		ID           string `json:"id"`
		Country      string `json:"country"`
		Project      string `json:"project"`
		Title        string `json:"title"`
		Status       string `json:"status"`
		Endorsements []struct {
			Country string `json:"country"`
		} `json:"endorsements"`
		Objections []struct {
			Country string `json:"country"`
		} `json:"objections"`
	}
	if err := getJSON(ctx, *api+"/api/v1/proposals?"+q.Encode(), "", &page); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(page)
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBY\tPROJECT\tSTATUS\tFOR\tAGAINST\tTITLE")
	for _, p := range page {
		if *status != "" && p.Status != *status {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", p.ID, p.Country, p.Project, p.Status, len(p.Endorsements), len(p.Objections), events.Truncate(p.Title, 60))
	}
	return tw.Flush()
}

func proposalShow(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "proposal show")
	api := apiFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: dpihub proposal show [--api URL] PROPOSAL-ID")
		return errUsage
	}
	var raw json.RawMessage
	if err := getJSON(ctx, *api+"/api/v1/governance/proposals/"+url.PathEscape(fs.Arg(0)), "", &raw); err != nil {
		return err
	}
	if *asJSON {
		_, err := env.Stdout.Write(append(raw, '\n'))
		return err
	}
	var p struct {
		ID, Country, Project, Title, Status string
		Submitted                           time.Time
		Votes                               map[string]struct {
			Endorse bool
			Text    string
		}
		Outlook struct {
			Rules, Next string
			Deadline    time.Time
			Unanswered  []string
		}
		History []struct{ From, To, By, Reason string }
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	w := env.Stdout
	fmt.Fprintf(w, "%s  %s\n  by %s, about %s, submitted %s\n  status: %s\n", p.ID, p.Title, p.Country, p.Project, p.Submitted.Format(time.RFC3339), p.Status)
	ccs := make([]string, 0, len(p.Votes))
	for cc := range p.Votes {
		ccs = append(ccs, cc)
	}
	sort.Strings(ccs)
	for _, cc := range ccs {
		v := p.Votes[cc]
		mark := "endorses"
		if !v.Endorse {
			mark = "objects"
		}
		fmt.Fprintf(w, "  %s %s%s\n", cc, mark, map[bool]string{true: ": " + v.Text, false: ""}[v.Text != ""])
	}
	fmt.Fprintf(w, "  rules: %s\n", p.Outlook.Rules)
	if p.Outlook.Next != "" {
		fmt.Fprintf(w, "  next: %s\n", p.Outlook.Next)
	}
	if !p.Outlook.Deadline.IsZero() && p.Status == events.ProposalOpen {
		fmt.Fprintf(w, "  deadline: %s\n", p.Outlook.Deadline.Format(time.RFC3339))
	}
	for _, c := range p.History {
		fmt.Fprintf(w, "  %s -> %s by %s: %s\n", c.From, c.To, c.By, c.Reason)
	}
	return nil
}

// getJSON GETs url (with a bearer token if any) into v; a problem answer
// becomes an error with its detail.
func getJSON(ctx context.Context, u, token string, v any) error {
	return doJSON(ctx, http.MethodGet, u, token, nil, http.StatusOK, v)
}

// doJSON sends a request with a JSON body (nil: none) and decodes an
// answer of status want into v.
func doJSON(ctx context.Context, method, u, token string, body any, want int, v any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = strings.NewReader(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is dpihub serve running there, with the service in --services?)", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		var p struct{ Detail, Title string }
		if json.Unmarshal(b, &p) == nil && (p.Detail != "" || p.Title != "") {
			return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, strings.TrimSpace(p.Title+": "+p.Detail))
		}
		return fmt.Errorf("%s %s: %s", method, u, resp.Status)
	}
	if v == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// readToken reads a bearer token from a file.
func readToken(path string) (string, error) {
	if path == "" {
		return "", errors.New("--token-file is required: the file of your maintainer token (or of the proposals service's)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
