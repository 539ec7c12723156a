package admin

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRegisterFlags(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("glassmq", flag.ContinueOnError)
	RegisterFlags(fs, &c)
	for _, name := range []string{"admin-listen", "instance-id", "rate-describe-mqtt-client", "rate-query-session-by-client-id",
		"rate-limit", "admin-credentials", "tencent-secret-id", "tencent-secret-key", "alibaba-access-key-id", "alibaba-access-key-secret"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag -%s not registered", name)
		}
	}
	if def := fs.Lookup("admin-listen").DefValue; def != "127.0.0.1:8080" {
		t.Errorf("-admin-listen default %q", def)
	}
	err := fs.Parse([]string{"-admin-listen", "[::1]:9000", "-instance-id", "post-cn-x", "-rate-describe-mqtt-client", "5",
		"-rate-query-session-by-client-id", "50", "-tencent-secret-id", "id", "-tencent-secret-key", "key",
		"-rate-limit", "DescribeClientList=5:7", "-rate-limit", "SendMessage=2000"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Listen: "[::1]:9000", InstanceID: "post-cn-x", DescribeRate: 5, QueryRate: 50, TencentSecretID: "id", TencentSecretKey: "key",
		Limits: map[string]Limit{"DescribeClientList": {Rate: 5, Burst: 7}, "SendMessage": {Rate: 2000}}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("parsed %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// The burst defaults to one second's worth; an explicit one is kept.
	for _, w := range []struct {
		a    action
		want Limit
	}{{actionDescribe, Limit{5, 5}}, {actionDescribeClientList, Limit{5, 7}}, {actionSendMessage, Limit{2000, 2000}},
		{actionBatchQuery, Limit{100, 100}}, {actionKickOutClient, Limit{20, 20}}} {
		if got := c.limit(w.a); got != w.want {
			t.Errorf("limit(%s) = %+v, want %+v", w.a, got, w.want)
		}
	}
	for _, bad := range []string{"NoSuchAction=1", "DescribeClientList=0", "DescribeClientList"} {
		c := DefaultConfig()
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		RegisterFlags(fs, &c)
		if fs.Parse([]string{"-rate-limit", bad}) == nil && c.Validate() == nil {
			t.Errorf("-rate-limit %s accepted", bad)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Listen != "127.0.0.1:8080" || c.InstanceID != "mqtt-local" || c.DescribeRate != 20 || c.QueryRate != 500 {
		t.Errorf("DefaultConfig() = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
}

// TestValidate: each problem is a sentence naming the flag, the value and
// what would be valid; all problems come at once.
func TestValidate(t *testing.T) {
	good := writeFile(t, `{"tencent":[{"secretId":"AKID1","secretKey":"k1"}],"alibaba":[{"accessKeyId":"LTAI1","accessKeySecret":"s1"}]}`)
	cases := []struct {
		name string
		mod  func(*Config)
		want []string // substrings of the error; nil: valid
	}{
		{"loopback IPv6", func(c *Config) { c.Listen = "[::1]:8080" }, nil},
		{"localhost", func(c *Config) { c.Listen = "localhost:0" }, nil},
		{"port only", func(c *Config) { c.Listen = "8080" }, []string{`admin: -admin-listen "8080": missing host, try 127.0.0.1:8080`}},
		{"empty", func(c *Config) { c.Listen = "" }, []string{`-admin-listen ""`}},
		{"bad port", func(c *Config) { c.Listen = "127.0.0.1:http" }, []string{`-admin-listen "127.0.0.1:http": port "http" is not a number from 0 to 65535`}},
		{"port too big", func(c *Config) { c.Listen = "127.0.0.1:70000" }, []string{`port "70000"`}},
		{"all interfaces without credentials", func(c *Config) { c.Listen = "0.0.0.0:8080" }, []string{`-admin-listen "0.0.0.0:8080": not a loopback address and no credentials are set`}},
		{"empty host without credentials", func(c *Config) { c.Listen = ":8080" }, []string{"not a loopback address"}},
		{"host name without credentials", func(c *Config) { c.Listen = "admin.example:8080" }, []string{"not a loopback address"}},
		{"all interfaces with flag credentials", func(c *Config) { c.Listen = ":8080"; withKeys(c) }, nil},
		{"all interfaces with a credentials file", func(c *Config) { c.Listen = "0.0.0.0:8080"; c.CredentialsFile = good }, nil},
		{"empty instance", func(c *Config) { c.InstanceID = "" }, []string{`-instance-id "": empty`}},
		{"instance with space", func(c *Config) { c.InstanceID = "mqtt local" }, []string{`-instance-id "mqtt local": want printable characters without spaces`}},
		{"zero rate", func(c *Config) { c.DescribeRate = 0 }, []string{"-rate-describe-mqtt-client 0: want requests per second above 0"}},
		{"negative rate", func(c *Config) { c.QueryRate = -1 }, []string{"-rate-query-session-by-client-id -1"}},
		{"half a Tencent pair", func(c *Config) { c.TencentSecretID = "AKID" }, []string{`-tencent-secret-id "AKID": -tencent-secret-key is empty`}},
		{"half an Alibaba pair", func(c *Config) { c.AlibabaAccessKeySecret = "s" }, []string{"-alibaba-access-key-secret is set but -alibaba-access-key-id is empty"}},
		{"everything wrong at once", func(c *Config) { c.Listen = "8080"; c.InstanceID = ""; c.DescribeRate = 0 },
			[]string{"-admin-listen", "-instance-id", "-rate-describe-mqtt-client"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q\nwant it to contain %q", err, w)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "admin: ") {
					t.Errorf("line %q lacks the admin: prefix", line)
				}
			}
		})
	}
}

// TestCredentialsFile: bad files are clear errors naming the file and the
// problem; secrets never appear in them.
func TestCredentialsFile(t *testing.T) {
	cases := []struct {
		name, content string
		want          string
	}{
		{"syntax error", "{\n\"tencent\": [\n{\"secretId\": \"a\",, }]}", `line 3: not JSON`},
		{"unknown field", `{"tencent":[{"secret_id":"a","secretKey":"hunter2"}]}`, `unknown field "secret_id"`},
		{"wrong type", `{"tencent":{"secretId":"a"}}`, `line 1: tencent is object, want []admin.TencentKey`},
		{"empty file", ``, "empty file"},
		{"no keys", `{}`, "no keys"},
		{"empty secret", `{"alibaba":[{"accessKeyId":"LTAI1","accessKeySecret":""}]}`, `alibaba[0]: accessKeySecret of "LTAI1" is empty`},
		{"empty ID", `{"tencent":[{"secretId":"","secretKey":"hunter2"}]}`, "tencent[0]: secretId is empty"},
		{"duplicate", `{"tencent":[{"secretId":"A","secretKey":"hunter2"},{"secretId":"A","secretKey":"x"}]}`, `tencent[1]: secretId "A" is given twice`},
		{"trailing data", `{"tencent":[{"secretId":"A","secretKey":"hunter2"}]} {}`, "data after the JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.CredentialsFile = writeFile(t, tc.content)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `-admin-credentials "`+c.CredentialsFile+`"`) {
				t.Errorf("Validate() = %q\nwant it to name the file and contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows a secret: %q", err)
			}
			if _, err := New(c, newFakeBroker(), nil); err == nil {
				t.Error("New accepted the bad file")
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		c := DefaultConfig()
		c.CredentialsFile = filepath.Join(t.TempDir(), "nope.json")
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "cannot read: no such file or directory") || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Validate() = %v", err)
		}
	})
	t.Run("file and flags together", func(t *testing.T) {
		c := DefaultConfig()
		c.CredentialsFile = writeFile(t, `{"tencent":[{"secretId":"AKID1","secretKey":"k1"}],"alibaba":[{"accessKeyId":"LTAI1","accessKeySecret":"s1"}]}`)
		withKeys(&c)
		creds, err := c.validate()
		if err != nil {
			t.Fatal(err)
		}
		if len(creds.tencent) != 2 || len(creds.alibaba) != 2 {
			t.Errorf("got %d Tencent and %d Alibaba keys, want 2 and 2", len(creds.tencent), len(creds.alibaba))
		}
	})
}
