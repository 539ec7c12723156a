package admin

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Config configures the admin server. Start from DefaultConfig, then let
// RegisterFlags or the caller change fields, then call Validate.
type Config struct {
	// Listen is the host:port of the admin HTTP port (-admin-listen). Without
	// credentials it must be a loopback address.
	Listen string
	// InstanceID is the instance ID this broker answers to (-instance-id):
	// Tencent and Alibaba requests must name it in InstanceId.
	InstanceID string
	// DescribeRate is the token bucket rate of Tencent DescribeMQTTClient, in
	// requests per second (-rate-describe-mqtt-client).
	DescribeRate float64
	// QueryRate is the token bucket rate of Alibaba QuerySessionByClientId, in
	// requests per second (-rate-query-session-by-client-id).
	QueryRate float64
	// Limits overrides the token bucket of any cloud action by its vendor
	// name (-rate-limit Action=rate[:burst], repeatable), such as
	// "DescribeClientList": {Rate: 20, Burst: 40}. Actions not named keep
	// their vendor's limit (DescribeRate and QueryRate for the first two);
	// a Burst of 0 is one second's worth of Rate.
	Limits map[string]Limit
	// CredentialsFile is a JSON file of key pairs (-admin-credentials), "" for
	// none. Format: {"tencent":[{"secretId":"..","secretKey":".."}],
	// "alibaba":[{"accessKeyId":"..","accessKeySecret":".."}]}.
	CredentialsFile string
	// One Tencent key pair given on the command line (-tencent-secret-id,
	// -tencent-secret-key), in addition to the file's.
	TencentSecretID, TencentSecretKey string
	// One Alibaba key pair given on the command line (-alibaba-access-key-id,
	// -alibaba-access-key-secret), in addition to the file's.
	AlibabaAccessKeyID, AlibabaAccessKeySecret string
	// Real-time admin threads (realtime.go).
	RealtimePriority int // -admin-realtime-priority: SCHED_FIFO priority of admin connection threads, 1..99; 0 off
}

// Defaults of DefaultConfig.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultInstanceID   = "mqtt-local"
	DefaultDescribeRate = 20  // Tencent's documented limit for DescribeMQTTClient
	DefaultQueryRate    = 500 // Alibaba's documented limit for QuerySessionByClientId
)

// maxRate bounds the configurable request rates; above it a token bucket is
// no limit at all.
const maxRate = 1e6

// maxInstanceID is the longest instance ID accepted, in bytes.
const maxInstanceID = 128

// DefaultConfig returns the embedded defaults: admin on 127.0.0.1:8080,
// instance mqtt-local, 20 DescribeMQTTClient and 500 QuerySessionByClientId
// requests per second, no credentials.
func DefaultConfig() Config {
	return Config{
		Listen:       DefaultListen,
		InstanceID:   DefaultInstanceID,
		DescribeRate: DefaultDescribeRate,
		QueryRate:    DefaultQueryRate,
	}
}

// RegisterFlags registers the admin flags in fs, with c's current values as
// defaults; parsing fs then writes into c. Flags: -admin-listen,
// -instance-id, -rate-describe-mqtt-client, -rate-query-session-by-client-id,
// -rate-limit, -admin-credentials, -tencent-secret-id, -tencent-secret-key,
// -alibaba-access-key-id, -alibaba-access-key-secret.
func RegisterFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Listen, "admin-listen", c.Listen,
		"admin: `host:port` of the HTTP admin API (Tencent, Alibaba, native JSON, /metrics); loopback only unless credentials are set")
	fs.StringVar(&c.InstanceID, "instance-id", c.InstanceID,
		"admin: `ID` of this broker as Tencent and Alibaba API requests name it in InstanceId")
	fs.Float64Var(&c.DescribeRate, "rate-describe-mqtt-client", c.DescribeRate,
		"admin: Tencent DescribeMQTTClient limit, `requests/s`")
	fs.Float64Var(&c.QueryRate, "rate-query-session-by-client-id", c.QueryRate,
		"admin: Alibaba QuerySessionByClientId limit, `requests/s`")
	fs.Var(limitFlag{c}, "rate-limit",
		"admin: `Action=rate[:burst]` token bucket of one cloud action, repeatable (burst defaults to one second's worth), such as DescribeClientList=20:40")
	fs.StringVar(&c.CredentialsFile, "admin-credentials", c.CredentialsFile,
		`admin: JSON `+"`file`"+` of API keys: {"tencent":[{"secretId":..,"secretKey":..}],"alibaba":[{"accessKeyId":..,"accessKeySecret":..}]}; with keys every Tencent/Alibaba request must be signed`)
	fs.StringVar(&c.TencentSecretID, "tencent-secret-id", c.TencentSecretID,
		"admin: Tencent `SecretId` accepted for signed requests (with -tencent-secret-key)")
	fs.StringVar(&c.TencentSecretKey, "tencent-secret-key", c.TencentSecretKey,
		"admin: Tencent `SecretKey` of -tencent-secret-id (visible in ps; prefer -admin-credentials)")
	fs.StringVar(&c.AlibabaAccessKeyID, "alibaba-access-key-id", c.AlibabaAccessKeyID,
		"admin: Alibaba `AccessKeyId` accepted for signed requests (with -alibaba-access-key-secret)")
	fs.StringVar(&c.AlibabaAccessKeySecret, "alibaba-access-key-secret", c.AlibabaAccessKeySecret,
		"admin: Alibaba `AccessKeySecret` of -alibaba-access-key-id (visible in ps; prefer -admin-credentials)")
	// Real-time admin threads.
	registerRealtimeFlag(fs, c)
}

// limit returns the rate and burst of action a under c.
func (c *Config) limit(a action) Limit {
	l := Limit{Rate: actionSpecs[a].rate}
	switch a {
	case actionDescribe:
		l.Rate = c.DescribeRate
	case actionQuery:
		l.Rate = c.QueryRate
	}
	if o, ok := c.Limits[actionSpecs[a].name]; ok {
		l = o
	}
	if l.Burst <= 0 {
		l.Burst = burstFor(l.Rate)
	}
	return l
}

// limitFlag is -rate-limit: Action=rate[:burst], repeatable, into c.Limits.
type limitFlag struct{ c *Config }

func (f limitFlag) String() string {
	if f.c == nil {
		return ""
	}
	var s []string
	for name, l := range f.c.Limits {
		s = append(s, fmt.Sprintf("%s=%g:%d", name, l.Rate, l.Burst))
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

func (f limitFlag) Set(v string) error {
	name, spec, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want Action=rate or Action=rate:burst, such as DescribeClientList=20:40")
	}
	var l Limit
	rateText, burstText, hasBurst := strings.Cut(spec, ":")
	r, err := strconv.ParseFloat(rateText, 64)
	if err != nil {
		return fmt.Errorf("rate %q of %s is not a number of requests per second", rateText, name)
	}
	l.Rate = r
	if hasBurst {
		b, err := strconv.Atoi(burstText)
		if err != nil || b < 1 {
			return fmt.Errorf("burst %q of %s is not a whole number of requests above 0", burstText, name)
		}
		l.Burst = b
	}
	if f.c.Limits == nil {
		f.c.Limits = map[string]Limit{}
	}
	f.c.Limits[name] = l
	return nil
}

// Validate reports every problem of c at once (joined with errors.Join), each
// a sentence naming the flag, the value and what would be valid. It reads
// the credentials file. Without credentials, a listen address that is not
// loopback is an error. Safe for concurrent use.
func (c *Config) Validate() error {
	_, err := c.validate()
	return err
}

// validate is Validate returning the loaded credentials too.
func (c *Config) validate() (*credentials, error) {
	var errs []error
	loopback, err := checkListen(c.Listen)
	if err != nil {
		errs = append(errs, err)
	}
	if err := checkInstanceID(c.InstanceID); err != nil {
		errs = append(errs, err)
	}
	if err := checkRealtime(c.RealtimePriority); err != nil { // real-time admin threads
		errs = append(errs, err)
	}
	if err := checkRate("rate-describe-mqtt-client", c.DescribeRate, DefaultDescribeRate); err != nil {
		errs = append(errs, err)
	}
	if err := checkRate("rate-query-session-by-client-id", c.QueryRate, DefaultQueryRate); err != nil {
		errs = append(errs, err)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Limits)) {
		l := c.Limits[name]
		if actionNamed(name) == actionUnknown {
			errs = append(errs, fmt.Errorf("admin: -rate-limit %s: no such action; want one of %s, %s", cut(name), actionList(cloudTencent), actionList(cloudAlibaba)))
			continue
		}
		if err := checkRate("rate-limit "+name, l.Rate, actionSpecs[actionNamed(name)].rate); err != nil {
			errs = append(errs, err)
		}
		if l.Burst < 0 {
			errs = append(errs, fmt.Errorf("admin: -rate-limit %s: burst %d, want at least 1 (or 0 for one second's worth)", name, l.Burst))
		}
	}
	creds, credErrs := loadCredentials(c)
	errs = append(errs, credErrs...)
	if err == nil && !loopback && creds.empty() && len(credErrs) == 0 {
		errs = append(errs, fmt.Errorf("admin: -admin-listen %q: not a loopback address and no credentials are set; "+
			"listen on 127.0.0.1, or set -admin-credentials (or -tencent-secret-id with -tencent-secret-key, "+
			"-alibaba-access-key-id with -alibaba-access-key-secret)", c.Listen))
	}
	return creds, errors.Join(errs...)
}

// checkListen checks a host:port and reports whether the host is loopback.
func checkListen(addr string) (loopback bool, err error) {
	if addr == "" {
		return false, errors.New(`admin: -admin-listen "": empty, want host:port such as 127.0.0.1:8080`)
	}
	host, port, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		if !strings.Contains(addr, ":") {
			return false, fmt.Errorf("admin: -admin-listen %q: missing host, try 127.0.0.1:%s", addr, addr)
		}
		return false, fmt.Errorf("admin: -admin-listen %q: not host:port, try 127.0.0.1:8080 or [::1]:8080", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (port != "0" && n == 0) {
		return false, fmt.Errorf("admin: -admin-listen %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "" {
		return false, nil // every interface: allowed only with credentials
	}
	if host == "localhost" {
		return true, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	return false, nil // a host name: cannot know where it resolves
}

func checkInstanceID(id string) error {
	if id == "" {
		return fmt.Errorf("admin: -instance-id %q: empty, want the ID clients send as InstanceId, such as %s", id, DefaultInstanceID)
	}
	if len(id) > maxInstanceID {
		return fmt.Errorf("admin: -instance-id %q: %d bytes, want at most %d", cut(id), len(id), maxInstanceID)
	}
	if !utf8.ValidString(id) || strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("admin: -instance-id %q: want printable characters without spaces, such as %s", cut(id), DefaultInstanceID)
	}
	return nil
}

func checkRate(flag string, r, def float64) error {
	if math.IsNaN(r) || r <= 0 || r > maxRate {
		return fmt.Errorf("admin: -%s %v: want requests per second above 0 and at most %g, such as %g", flag, r, float64(maxRate), def)
	}
	return nil
}

// cut shortens client-supplied or configured text for error messages.
func cut(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
