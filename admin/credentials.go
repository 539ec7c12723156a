package admin

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// CredentialsFile is the JSON format of -admin-credentials:
//
//	{"tencent":[{"secretId":"AKID..","secretKey":".."}],
//	 "alibaba":[{"accessKeyId":"LTAI..","accessKeySecret":".."}]}
//
// Either list may be absent; the file must hold at least one pair. Unknown
// keys are errors, so a misspelt field cannot silently disable a key.
type CredentialsFile struct {
	Tencent []TencentKey `json:"tencent"`
	Alibaba []AlibabaKey `json:"alibaba"`
}

// TencentKey is one Tencent Cloud API key pair (TC3-HMAC-SHA256 and
// HmacSHA1/HmacSHA256 signatures).
type TencentKey struct {
	SecretID  string `json:"secretId"`
	SecretKey string `json:"secretKey"`
}

// AlibabaKey is one Alibaba Cloud AccessKey pair (RPC HMAC-SHA1 and
// ACS3-HMAC-SHA256 signatures).
type AlibabaKey struct {
	AccessKeyID     string `json:"accessKeyId"`
	AccessKeySecret string `json:"accessKeySecret"`
}

// credentials maps key IDs to secrets. It is immutable after loading.
type credentials struct {
	tencent map[string]string // SecretId -> SecretKey
	alibaba map[string]string // AccessKeyId -> AccessKeySecret
	tc3     map[string]string // SecretId -> "TC3"+SecretKey, the TC3 key derivation's first key
	rpc     map[string]string // AccessKeyId -> AccessKeySecret+"&", the RPC HMAC-SHA1 key
}

// prepare fills the derived keys c.tc3 and c.rpc.
func (c *credentials) prepare() {
	c.tc3 = make(map[string]string, len(c.tencent))
	for id, key := range c.tencent {
		c.tc3[id] = "TC3" + key
	}
	c.rpc = make(map[string]string, len(c.alibaba))
	for id, secret := range c.alibaba {
		c.rpc[id] = secret + "&"
	}
}

// empty reports whether no key is configured: requests are then not
// authenticated at all.
func (c *credentials) empty() bool { return len(c.tencent) == 0 && len(c.alibaba) == 0 }

// bearer reports whether token equals a configured secret (SecretKey or
// AccessKeySecret), in time independent of where they differ.
func (c *credentials) bearer(token []byte) bool {
	ok := 0
	for _, m := range []map[string]string{c.tencent, c.alibaba} {
		for _, secret := range m {
			ok |= subtle.ConstantTimeCompare(token, []byte(secret))
		}
	}
	return ok == 1
}

// loadCredentials merges the flag pairs and the credentials file of c. It
// returns every problem found; secrets never appear in them.
func loadCredentials(c *Config) (*credentials, []error) {
	creds := &credentials{tencent: map[string]string{}, alibaba: map[string]string{}}
	var errs []error
	switch {
	case c.TencentSecretID != "" && c.TencentSecretKey != "":
		creds.tencent[c.TencentSecretID] = c.TencentSecretKey
	case c.TencentSecretID != "":
		errs = append(errs, fmt.Errorf("admin: -tencent-secret-id %q: -tencent-secret-key is empty; set both or neither", cut(c.TencentSecretID)))
	case c.TencentSecretKey != "":
		errs = append(errs, errors.New("admin: -tencent-secret-key is set but -tencent-secret-id is empty; set both or neither"))
	}
	switch {
	case c.AlibabaAccessKeyID != "" && c.AlibabaAccessKeySecret != "":
		creds.alibaba[c.AlibabaAccessKeyID] = c.AlibabaAccessKeySecret
	case c.AlibabaAccessKeyID != "":
		errs = append(errs, fmt.Errorf("admin: -alibaba-access-key-id %q: -alibaba-access-key-secret is empty; set both or neither", cut(c.AlibabaAccessKeyID)))
	case c.AlibabaAccessKeySecret != "":
		errs = append(errs, errors.New("admin: -alibaba-access-key-secret is set but -alibaba-access-key-id is empty; set both or neither"))
	}
	if c.CredentialsFile == "" {
		return creds, errs
	}
	f, err := readCredentialsFile(c.CredentialsFile)
	if err != nil {
		return creds, append(errs, fmt.Errorf("admin: -admin-credentials %q: %w", c.CredentialsFile, err))
	}
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("admin: -admin-credentials %q: "+format, append([]any{c.CredentialsFile}, args...)...))
	}
	if len(f.Tencent) == 0 && len(f.Alibaba) == 0 {
		bad(`no keys; want {"tencent":[{"secretId":"..","secretKey":".."}],"alibaba":[{"accessKeyId":"..","accessKeySecret":".."}]}`)
	}
	for i, k := range f.Tencent {
		switch {
		case k.SecretID == "":
			bad("tencent[%d]: secretId is empty", i)
		case k.SecretKey == "":
			bad("tencent[%d]: secretKey of %q is empty", i, cut(k.SecretID))
		case creds.tencent[k.SecretID] != "":
			bad("tencent[%d]: secretId %q is given twice", i, cut(k.SecretID))
		default:
			creds.tencent[k.SecretID] = k.SecretKey
		}
	}
	for i, k := range f.Alibaba {
		switch {
		case k.AccessKeyID == "":
			bad("alibaba[%d]: accessKeyId is empty", i)
		case k.AccessKeySecret == "":
			bad("alibaba[%d]: accessKeySecret of %q is empty", i, cut(k.AccessKeyID))
		case creds.alibaba[k.AccessKeyID] != "":
			bad("alibaba[%d]: accessKeyId %q is given twice", i, cut(k.AccessKeyID))
		default:
			creds.alibaba[k.AccessKeyID] = k.AccessKeySecret
		}
	}
	return creds, errs
}

// readCredentialsFile parses the file strictly: unknown fields and trailing
// data are errors, and syntax errors name the line.
func readCredentialsFile(path string) (*CredentialsFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f CredentialsFile
	if err := dec.Decode(&f); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return nil, errors.New(`empty file, want {"tencent":[{"secretId":"..","secretKey":".."}],"alibaba":[...]}`)
		case errors.As(err, &se):
			return nil, fmt.Errorf("line %d: not JSON: %w", lineOf(data, se.Offset), err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("line %d: %s is %s, want %s", lineOf(data, te.Offset), te.Field, te.Value, te.Type)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, errors.New("not JSON: the file ends inside a value")
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return nil, fmt.Errorf("%s; want tencent[].secretId, tencent[].secretKey, alibaba[].accessKeyId, alibaba[].accessKeySecret",
				strings.TrimPrefix(err.Error(), "json: "))
		}
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("line %d: data after the JSON object", lineOf(data, dec.InputOffset()))
	}
	return &f, nil
}

// lineOf returns the 1-based line of byte offset off in data.
func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}
