package bench

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/glassmq/glassmq/codec"
)

// Pointing the bench at a broker of one's own (a staging broker on another
// host, with a user name and TLS): the address checks, the CONNECT's
// credentials and the TLS settings.

// checkAddr checks that addr is host:port and, unless c.AllowRemote is
// set, on a loopback address: a load test of another machine must be asked
// for, so that nobody loads a production broker by accident.
func (c *Config) checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return errors.New("want host:port, such as 127.0.0.1:1883")
	}
	if c.AllowRemote || isLoopbackHost(host) {
		return nil
	}
	return errors.New("not a loopback address: pass -allow-remote to load a broker on another host (a staging one, never production)")
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP
// address. Other names count as remote whatever they resolve to now.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateRemote adds the problems of the credential and TLS settings to errs.
func (c *Config) validateRemote(bad func(flag string, v any, why string)) {
	if c.Password != "" && c.Username == "" {
		bad("password", "(hidden)", "needs -username: MQTT 3.1.1 sends no password without a user name [MQTT-3.1.2-22]")
	}
	if len(c.Username) > 65535 || len(c.Password) > 65535 {
		bad("username", len(c.Username), "user name and password are at most 65535 bytes each")
	}
	if !c.TLS && (c.TLSInsecure || c.CAFile != "") {
		bad("tls", c.TLS, "-tls-insecure and -ca need -tls")
	}
	if c.TLSInsecure && c.CAFile != "" {
		bad("tls-insecure", c.TLSInsecure, "-ca verifies the certificate and -tls-insecure skips that: give one of them")
	}
	if c.CAFile != "" {
		if _, err := c.rootCAs(); err != nil {
			bad("ca", fmt.Sprintf("%q", c.CAFile), err.Error())
		}
	}
}

// rootCAs reads the PEM certificates of c.CAFile.
func (c *Config) rootCAs() (*x509.CertPool, error) {
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

// tlsConfig returns the client TLS settings for c.Addr. The server's
// certificate is verified against -ca, or the system's roots, for the host
// name of c.Addr; it is not verified with -tls-insecure, nor on a loopback
// address without -ca (a broker the bench started, with a throwaway
// certificate).
func (c *Config) tlsConfig() (*tls.Config, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{ServerName: host}
	switch {
	case c.CAFile != "":
		if tc.RootCAs, err = c.rootCAs(); err != nil {
			return nil, fmt.Errorf("bench: -ca %q: %w", c.CAFile, err)
		}
	case c.TLSInsecure || isLoopbackHost(host):
		tc.InsecureSkipVerify = true //nolint:gosec // asked for, or a loopback broker of our own
	}
	return tc, nil
}

// connectPacket appends the CONNECT of a clean session for clientID, with
// keep-alive off and c's user name and password, to dst; at c.Protocol 5
// an MQTT 5.0 CONNECT without properties (its session ends with the
// connection, as a 3.1.1 clean session's does).
func (c *Config) connectPacket(dst, clientID []byte) []byte {
	p := codec.Connect{CleanSession: true, ClientID: clientID}
	if c.Persistent {
		p.CleanSession = false
		if c.Protocol == Protocol5 {
			p.Props.SessionExpiry = 300
			p.Props.Set(codec.PropSessionExpiry)
		}
	}
	if c.Protocol == Protocol5 {
		p.ProtocolName, p.ProtocolLevel = []byte(codec.ProtocolName311), codec.ProtocolLevel5
	}
	if c.Username != "" {
		p.UsernameFlag, p.Username = true, []byte(c.Username)
	}
	if c.Password != "" {
		p.PasswordFlag, p.Password = true, []byte(c.Password)
	}
	return codec.AppendConnect(dst, &p)
}
