package admin

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strings"
)

// Device authentication in CONNECT, as Alibaba Cloud's MQTT devices do it
// (https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/signature-authentication
// and the device credential mode): the user name names the mode, the key
// and the instance, the password is Base64(HMAC-SHA1(secret, ClientId)).
//
//	Signature|<AccessKeyId>|<InstanceId>              account key of -admin-credentials
//	DeviceCredential|<DeviceAccessKeyId>|<InstanceId> key RegisterDeviceCredential issued to that client

// Modes of device authentication.
const (
	signaturePrefix        = "Signature|"
	deviceCredentialPrefix = "DeviceCredential|"
)

// DeviceUser reports whether username is in one of Alibaba's device
// authentication forms, so CheckDevice decides the CONNECT.
func DeviceUser(username string) bool {
	return strings.HasPrefix(username, signaturePrefix) || strings.HasPrefix(username, deviceCredentialPrefix)
}

// CheckDevice checks an Alibaba device's CONNECT credentials: the user
// name's instance must be this broker's, its key a configured AccessKeyId
// (Signature mode) or the DeviceAccessKeyId issued to clientID (device
// credential mode), and the password the key's signature of clientID. It
// reports false for anything else, including a user name DeviceUser does
// not accept. Safe for concurrent use.
func (s *Server) CheckDevice(clientID, username string, password []byte) bool {
	var secret string
	switch {
	case strings.HasPrefix(username, signaturePrefix):
		key, inst, ok := strings.Cut(username[len(signaturePrefix):], "|")
		if !ok || inst != s.cfg.InstanceID {
			return false
		}
		if secret, ok = s.creds.alibaba[key]; !ok {
			return false
		}
	case strings.HasPrefix(username, deviceCredentialPrefix):
		key, inst, ok := strings.Cut(username[len(deviceCredentialPrefix):], "|")
		if !ok || inst != s.cfg.InstanceID {
			return false
		}
		c, ok := s.devices.Get(clientID)
		if !ok || !hmac.Equal([]byte(c.AccessKeyID), []byte(key)) {
			return false
		}
		secret = c.AccessKeySecret
	default:
		return false
	}
	return hmac.Equal(password, []byte(DeviceSignature(secret, clientID)))
}

// DeviceSignature returns the password a device signs its CONNECT with:
// Base64(HMAC-SHA1(secret, clientID)).
func DeviceSignature(secret, clientID string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(clientID))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
