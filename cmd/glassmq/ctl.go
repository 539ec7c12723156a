package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glassmq/glassmq/admin"
)

// ctlUsage is the help of glassmq ctl.
const ctlUsage = `Usage: glassmq ctl [-admin URL] [-token SECRET] [-o table|json] COMMAND [ARGS]

Asks a running glassmq the common questions over its native admin API.

Commands:
  clients [-status online|offline|all] [-prefix P] [-username U] [-sort id|traffic|connect_time] [-limit N] [-all]
                      list clients (one page of -limit, or every page with -all)
  client ID           every field of one client's session
  kick ID [-will=false]
                      close the client's connection (its will is published unless -will=false)
  retained [PREFIX]   retained messages whose topic starts with PREFIX
  top [-n N] [-interval D] [-count K]
                      the N clients with the most traffic and their rates, refreshed every D
                      (K refreshes, 0 for until interrupted)

Flags:
  -admin URL     the admin port (default $GLASSMQ_ADMIN or http://127.0.0.1:8080)
  -token SECRET  a configured SecretKey or AccessKeySecret, sent as a Bearer token
                 (default $GLASSMQ_TOKEN; not needed when the admin port has no credentials)
  -o FORMAT      table (default) or json
`

// ctl is one glassmq ctl invocation.
type ctl struct {
	base   string
	token  string
	output string
	out    io.Writer
	http   *http.Client
}

// runCtl runs glassmq ctl with args (after "ctl") and returns the exit
// status: 0, 1 when the broker answers an error or cannot be reached, 2
// for bad usage.
func runCtl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glassmq ctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := os.Getenv("GLASSMQ_ADMIN")
	if base == "" {
		base = "http://" + admin.DefaultListen
	}
	c := &ctl{out: stdout, http: &http.Client{Timeout: 10 * time.Second}}
	fs.StringVar(&c.base, "admin", base, "")
	fs.StringVar(&c.token, "token", os.Getenv("GLASSMQ_TOKEN"), "")
	fs.StringVar(&c.output, "o", "table", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, ctlUsage)
			return 0
		}
		fmt.Fprintf(stderr, "glassmq ctl: %v\n%s", err, ctlUsage)
		return 2
	}
	if c.output != "table" && c.output != "json" {
		fmt.Fprintf(stderr, "glassmq ctl: -o %q: want table or json\n", c.output)
		return 2
	}
	if !strings.Contains(c.base, "://") {
		c.base = "http://" + c.base
	}
	c.base = strings.TrimRight(c.base, "/")
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, ctlUsage)
		return 2
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	var err error
	switch cmd {
	case "clients":
		err = c.clients(rest)
	case "client":
		err = c.client(rest)
	case "kick":
		err = c.kick(rest)
	case "retained":
		err = c.retained(rest)
	case "top":
		err = c.top(rest)
	case "help":
		fmt.Fprint(stdout, ctlUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "glassmq ctl: unknown command %q; want clients, client, kick, retained or top\n", cmd)
		return 2
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "glassmq ctl %s: %v\n", cmd, err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "glassmq ctl %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// call does one request of the native API and decodes the JSON answer
// into out; an API error comes back as its message.
func (c *ctl) call(method, path string, q url.Values, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return fmt.Errorf("-admin %q: %w", c.base, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e admin.APIError
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			if resp.StatusCode == http.StatusUnauthorized {
				return fmt.Errorf("%s (give -token or set GLASSMQ_TOKEN)", e.Error.Message)
			}
			return errors.New(e.Error.Message)
		}
		return fmt.Errorf("%s %s: HTTP %d", method, u, resp.StatusCode)
	}
	return json.Unmarshal(body, out)
}

// json prints v indented.
func (c *ctl) json(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *ctl) table(header string, rows [][]string) error {
	tw := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func (c *ctl) clients(args []string) error {
	fs := flag.NewFlagSet("clients", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	status := fs.String("status", "all", "")
	prefix := fs.String("prefix", "", "")
	user := fs.String("username", "", "")
	sort := fs.String("sort", "id", "")
	limit := fs.Int("limit", 100, "")
	all := fs.Bool("all", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return usageError{fmt.Sprintf("want [-status S] [-prefix P] [-username U] [-sort id|traffic|connect_time] [-limit N] [-all]%s", errSuffix(err))}
	}
	q := url.Values{"status": {*status}, "sort": {*sort}, "limit": {strconv.Itoa(*limit)}}
	if *prefix != "" {
		q.Set("prefix", *prefix)
	}
	if *user != "" {
		q.Set("username", *user)
	}
	var list admin.ClientList
	for {
		var page admin.ClientList
		if err := c.call("GET", "/api/v1/clients", q, &page); err != nil {
			return err
		}
		list.Clients = append(list.Clients, page.Clients...)
		list.NextCursor = page.NextCursor
		if !*all || page.NextCursor == "" {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if list.Clients == nil {
		list.Clients = []admin.ClientSummary{}
	}
	if c.output == "json" {
		return c.json(&list)
	}
	rows := make([][]string, 0, len(list.Clients))
	for _, s := range list.Clients {
		rows = append(rows, []string{s.ClientID, s.Status, dash(s.Username), dash(s.ClientAddress), msTime(s.ConnectTimeMs),
			strconv.FormatUint(s.ReceivedBytes, 10), strconv.FormatUint(s.SentBytes, 10)})
	}
	if err := c.table("CLIENT ID\tSTATUS\tUSER\tADDRESS\tCONNECTED\tBYTES IN\tBYTES OUT", rows); err != nil {
		return err
	}
	if list.NextCursor != "" {
		fmt.Fprintln(c.out, "(more: use -all or -limit)")
	}
	return nil
}

func (c *ctl) client(args []string) error {
	if len(args) != 1 {
		return usageError{"want one client ID"}
	}
	var cl admin.Client
	if err := c.call("GET", "/api/v1/clients/"+url.PathEscape(args[0]), nil, &cl); err != nil {
		return err
	}
	if c.output == "json" {
		return c.json(&cl)
	}
	reason := cl.DisconnectReason
	if cl.DisconnectDetail != "" {
		reason += ": " + cl.DisconnectDetail
	}
	rows := [][]string{
		{"client ID", cl.ClientID}, {"status", cl.Status}, {"address", dash(cl.ClientAddress)}, {"listener", dash(cl.Listener)},
		{"user name", dash(cl.Username)}, {"authenticated", strconv.FormatBool(cl.Authenticated)},
		{"protocol version", strconv.Itoa(cl.ProtocolVersion)}, {"keep-alive", strconv.Itoa(cl.KeepAlive) + "s"},
		{"clean session", strconv.FormatBool(cl.CleanSession)}, {"session expiry", strconv.FormatInt(cl.SessionExpiry, 10) + "s"},
		{"created", dash(cl.CreateTime)}, {"connected", dash(cl.ConnectTime)}, {"disconnected", dash(cl.DisconnectTime)},
		{"last activity", dash(cl.LastActivity)}, {"connections", strconv.FormatUint(cl.Connections, 10)},
		{"last disconnect", dash(reason)}, {"will topic", dash(cl.WillTopic)},
		{"queue", fmt.Sprintf("%d/%d, %d dropped", cl.Queue.Len, cl.Queue.Max, cl.Queue.Dropped)},
		{"in flight", fmt.Sprintf("%d/%d", cl.Inflight.Len, cl.Inflight.Max)}, {"awaiting PUBREL", strconv.Itoa(cl.AwaitingPubrel)},
		{"bytes in", strconv.FormatUint(cl.Received.Bytes, 10)}, {"bytes out", strconv.FormatUint(cl.Sent.Bytes, 10)},
	}
	for _, s := range cl.Subscriptions {
		rows = append(rows, []string{"subscription", fmt.Sprintf("%s (QoS %d)", s.TopicFilter, s.QoS)})
	}
	for _, p := range cl.Received.Packets {
		rows = append(rows, []string{"received", fmt.Sprintf("%s QoS %d: %d", p.Type, p.QoS, p.Count)})
	}
	for _, p := range cl.Sent.Packets {
		rows = append(rows, []string{"sent", fmt.Sprintf("%s QoS %d: %d", p.Type, p.QoS, p.Count)})
	}
	for _, h := range cl.History {
		e := h.Event + " from " + h.Address
		if h.Reason != "" {
			e += " (" + h.Reason + ")"
		}
		rows = append(rows, []string{h.Time, e})
	}
	return c.table("FIELD\tVALUE", rows)
}

func (c *ctl) kick(args []string) error {
	fs := flag.NewFlagSet("kick", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	will := fs.Bool("will", true, "")
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil || id == "" && fs.NArg() != 1 || id != "" && fs.NArg() != 0 {
		return usageError{"want a client ID and, optionally, -will=false" + errSuffix(err)}
	}
	if id == "" {
		id = fs.Arg(0)
	}
	var r admin.KickResult
	if err := c.call("DELETE", "/api/v1/clients/"+url.PathEscape(id), url.Values{"will": {strconv.FormatBool(*will)}}, &r); err != nil {
		return err
	}
	if c.output == "json" {
		return c.json(&r)
	}
	fmt.Fprintf(c.out, "kicked %s (will published: %v)\n", r.ClientID, r.PublishWill)
	return nil
}

func (c *ctl) retained(args []string) error {
	if len(args) > 1 {
		return usageError{"want at most one topic prefix"}
	}
	q := url.Values{"limit": {"1000"}}
	if len(args) == 1 {
		q.Set("prefix", args[0])
	}
	var list admin.RetainedList
	for {
		var page admin.RetainedList
		if err := c.call("GET", "/api/v1/retained", q, &page); err != nil {
			return err
		}
		list.Messages = append(list.Messages, page.Messages...)
		if page.NextCursor == "" {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if list.Messages == nil {
		list.Messages = []admin.RetainedMessage{}
	}
	if c.output == "json" {
		return c.json(&list)
	}
	rows := make([][]string, 0, len(list.Messages))
	for _, m := range list.Messages {
		p := m.PayloadText
		if m.PayloadBase64 != "" {
			p = "base64:" + m.PayloadBase64
		}
		short := cutText(p, 60)
		more := m.Truncated || short != p
		p = strconv.Quote(short)
		if more {
			p += "…"
		}
		rows = append(rows, []string{m.Topic, strconv.Itoa(int(m.QoS)), strconv.Itoa(m.PayloadBytes), p})
	}
	return c.table("TOPIC\tQOS\tBYTES\tPAYLOAD", rows)
}

// topRow is one line of glassmq ctl top.
type topRow struct {
	admin.ClientSummary
	InPerSec  float64 `json:"received_bytes_per_second"`
	OutPerSec float64 `json:"sent_bytes_per_second"`
}

func (c *ctl) top(args []string) error {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("n", 10, "")
	interval := fs.Duration("interval", 2*time.Second, "")
	count := fs.Int("count", 0, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *n < 1 || *n > 1000 || *interval < 100*time.Millisecond {
		return usageError{"want [-n 1..1000] [-interval D of at least 100ms] [-count K]" + errSuffix(err)}
	}
	prev := map[string]admin.ClientSummary{}
	var prevAt time.Time
	for i := 0; *count == 0 || i < *count; i++ {
		if i > 0 {
			time.Sleep(*interval)
		}
		var list admin.ClientList
		if err := c.call("GET", "/api/v1/clients", url.Values{"sort": {"traffic"}, "limit": {strconv.Itoa(*n)}}, &list); err != nil {
			return err
		}
		now := time.Now()
		rows := make([]topRow, 0, len(list.Clients))
		for _, s := range list.Clients {
			r := topRow{ClientSummary: s}
			if p, ok := prev[s.ClientID]; ok && !prevAt.IsZero() {
				dt := now.Sub(prevAt).Seconds()
				r.InPerSec = float64(s.ReceivedBytes-min(p.ReceivedBytes, s.ReceivedBytes)) / dt
				r.OutPerSec = float64(s.SentBytes-min(p.SentBytes, s.SentBytes)) / dt
			}
			rows = append(rows, r)
		}
		prev, prevAt = map[string]admin.ClientSummary{}, now
		for _, s := range list.Clients {
			prev[s.ClientID] = s
		}
		if c.output == "json" {
			if err := json.NewEncoder(c.out).Encode(rows); err != nil { // one line per refresh
				return err
			}
			continue
		}
		if *count != 1 {
			fmt.Fprint(c.out, "\x1b[H\x1b[2J") // clear the terminal between refreshes
		}
		fmt.Fprintf(c.out, "glassmq top: %s, %d busiest clients by bytes, every %v\n\n", now.Format(time.TimeOnly), *n, *interval)
		tr := make([][]string, 0, len(rows))
		for _, r := range rows {
			tr = append(tr, []string{r.ClientID, r.Status, strconv.FormatUint(r.ReceivedBytes, 10), strconv.FormatUint(r.SentBytes, 10),
				strconv.FormatFloat(r.InPerSec, 'f', 0, 64), strconv.FormatFloat(r.OutPerSec, 'f', 0, 64)})
		}
		if err := c.table("CLIENT ID\tSTATUS\tBYTES IN\tBYTES OUT\tIN B/S\tOUT B/S", tr); err != nil {
			return err
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func msTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// cutText cuts s to at most n runes.
func cutText(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
