package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool // -allow-remote
		want   string
	}{
		{"127.0.0.1:1883", false, ""},
		{"127.0.0.2:1883", false, ""},
		{"[::1]:1883", false, ""},
		{"localhost:1883", false, ""},
		{"192.0.2.10:1883", false, "-allow-remote"},
		{"[2001:db8::1]:8883", false, "-allow-remote"},
		{"staging.example.com:1883", false, "-allow-remote"}, // a name is remote whatever it resolves to
		{"0.0.0.0:1883", false, "-allow-remote"},
		{"192.0.2.10:1883", true, ""},
		{"staging.example.com:8883", true, ""},
		{"192.0.2.10", true, "want host:port"},
	} {
		c := DefaultConfig()
		c.AllowRemote = tc.remote
		err := c.checkAddr(tc.addr)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkAddr(%q) with AllowRemote %v = %v, want %q", tc.addr, tc.remote, err, tc.want)
		}
	}
}

func TestValidateRemote(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"remote admin refused too", func(c *Config) { c.Scenario, c.AdminAddr = "admin", "192.0.2.1:8080" }, "-admin-addr"},
		{"admin load unknown", func(c *Config) { c.Scenario, c.AdminLoad = "admin", "fanin" }, "-admin-load"},
		{"admin client unknown", func(c *Config) { c.Scenario, c.AdminClient = "admin", "fasthttp" }, "-admin-client"},
		{"remote allowed", func(c *Config) { c.AllowRemote, c.Addr = true, "192.0.2.1:8883" }, ""},
		{"MQTT-3.1.2-22 password without user name", func(c *Config) { c.Password = "secret" }, "needs -username"},
		{"user name alone", func(c *Config) { c.Username = "bench" }, ""},
		{"insecure without tls", func(c *Config) { c.TLSInsecure = true }, "need -tls"},
		{"ca without tls", func(c *Config) { c.CAFile = ca }, "need -tls"},
		{"ca not PEM", func(c *Config) { c.TLS, c.CAFile = true, ca }, "no PEM certificate"},
		{"ca missing", func(c *Config) { c.TLS, c.CAFile = true, ca+".none" }, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("Validate printed the password: %v", err)
			}
		})
	}
}

// customGlassmq is glassmq with extra flags, as a user's own broker would run.
func customGlassmq(bin string, extra ...string) Target {
	t := GlassmqTarget(bin, false, Limits{Inflight: 32, Queued: 100_000})
	base := t.Args
	t.Args = func(port, adminPort int, dir string) ([]string, []string, error) {
		args, env, err := base(port, adminPort, dir)
		return append(args, extra...), env, err
	}
	return t
}

// TestCredentialsAgainstGlassmq runs a flow and the raw-socket dialer
// against a glassmq that refuses anonymous clients: with the right user
// name and password everything connects, with a wrong one nothing does.
func TestCredentialsAgainstGlassmq(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real broker")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "passwords")
	if err := os.WriteFile(pw, []byte("bench:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	p := startTarget(t, customGlassmq(bin, "-password-file", pw))
	for _, tc := range []struct {
		name, user, pass string
		ok               bool
	}{
		{"right password", "bench", "s3cret", true},
		{"wrong password", "bench", "guess", false},
		{"anonymous", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tiny(p, "pairs", 1)
			c.Username, c.Password = tc.user, tc.pass
			rs, err := Run(c)
			if tc.ok {
				if err != nil || rs[0].Delivered == 0 || rs[0].Lost != 0 {
					t.Fatalf("pairs: %v, %+v; want every message delivered", err, rs)
				}
			} else if err == nil || !strings.Contains(err.Error(), "CONNACK return code") {
				t.Fatalf("pairs: err %v; want the broker's refusal in CONNACK", err)
			}
			c.Scenario = "connections"
			rs, err = Run(c)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rs[0].Connections, map[bool]int{true: 200, false: 0}[tc.ok]; got != want {
				t.Errorf("connections: %d opened (%v), want %d", got, rs[0].Errors, want)
			}
		})
	}
}

// TestTLSVerification runs a flow over TLS against a glassmq whose
// certificate a test CA signed: -ca with that CA connects, -ca with another
// CA fails the handshake, -tls-insecure connects without verifying.
func TestTLSVerification(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real broker")
	}
	dir := t.TempDir()
	caPEM, caCert, caKey := testCA(t, "glassmq bench test CA")
	otherPEM, _, _ := testCA(t, "some other CA")
	certPEM, keyPEM := testLeaf(t, caCert, caKey)
	files := map[string][]byte{"ca.pem": caPEM, "other.pem": otherPEM, "cert.pem": certPEM, "key.pem": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := "127.0.0.1:" + strconv.Itoa(port)
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	p := startTarget(t, customGlassmq(bin, "-tls-listen", tlsAddr,
		"-tls-cert", filepath.Join(dir, "cert.pem"), "-tls-key", filepath.Join(dir, "key.pem")))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", tlsAddr); err == nil {
			c.Close()
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("TLS listener: %v", err)
		}
	}
	for _, tc := range []struct {
		name     string
		ca       string
		insecure bool
		want     string // "" means it connects
	}{
		{"our CA", "ca.pem", false, ""},
		{"another CA", "other.pem", false, "certificate signed by unknown authority"},
		{"insecure", "", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tiny(p, "pairs", 1)
			c.Addr, c.TLS, c.TLSInsecure = tlsAddr, true, tc.insecure
			if tc.ca != "" {
				c.CAFile = filepath.Join(dir, tc.ca)
			}
			rs, err := Run(c)
			if tc.want == "" {
				if err != nil || rs[0].Delivered == 0 || rs[0].Lost != 0 {
					t.Fatalf("%v, %+v; want every message delivered", err, rs)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func testCA(t *testing.T, name string) (pemBytes []byte, cert *x509.Certificate, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert, key
}

func testLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
