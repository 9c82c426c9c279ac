package taskstate

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// WithCACert trusts the CA certificates of a PEM file instead of the system
// roots, and asks for TLS. An empty path does nothing, so
// WithCACert(os.Getenv("MY_CA")) is safe.
func WithCACert(pemFile string) Option { return func(o *options) { o.caCertFile = pemFile } }

// WithClientCert presents the certificate and private key of two PEM files
// to the server (mutual TLS), and asks for TLS. Empty paths do nothing; one
// without the other makes Dial fail.
func WithClientCert(certFile, keyFile string) Option {
	return func(o *options) { o.clientCertFile, o.clientKeyFile = certFile, keyFile }
}

// chooseTransport applies the TLS default rule shared by every taskstate
// client; the first step that applies wins:
//
//  1. an explicit option: WithTLS, WithCACert or WithClientCert ask for TLS,
//     WithInsecure for plaintext;
//  2. the address's scheme: https://host:port is TLS, http://host:port
//     plaintext;
//  3. the host: loopback (localhost, 127.0.0.0/8, ::1, a unix socket) is
//     plaintext, anything else TLS with the system roots.
//
// It returns the gRPC target without the scheme.
func chooseTransport(addr string, o *options) (target string, useTLS bool, err error) {
	target, scheme := splitScheme(addr)
	files := o.caCertFile != "" || o.clientCertFile != "" || o.clientKeyFile != ""
	switch {
	case files && o.transport == transportInsecure:
		return "", false, errors.New("WithInsecure conflicts with a CA or client certificate (which ask for TLS)")
	case files || o.transport == transportTLS:
		return target, true, nil
	case o.transport == transportInsecure:
		return target, false, nil
	case scheme == "https":
		return target, true, nil
	case scheme == "http":
		return target, false, nil
	}
	return target, !isLoopbackTarget(target), nil
}

// splitScheme strips an https:// or http:// prefix (gRPC itself has no such
// target schemes), adding the scheme's default port when none is given.
func splitScheme(addr string) (target, scheme string) {
	for _, s := range []string{"https", "http"} {
		prefix := s + "://"
		if len(addr) < len(prefix) || !strings.EqualFold(addr[:len(prefix)], prefix) {
			continue
		}
		hostPort := strings.TrimSuffix(addr[len(prefix):], "/")
		if _, _, err := net.SplitHostPort(hostPort); err != nil {
			port := "443"
			if s == "http" {
				port = "80"
			}
			hostPort = net.JoinHostPort(strings.Trim(hostPort, "[]"), port)
		}
		return hostPort, s
	}
	return addr, ""
}

// tlsConfig builds the TLS configuration: WithTLS's (or a TLS 1.2+ default),
// with the CA file replacing the roots and the client certificate added.
func tlsConfig(o *options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsConfig != nil {
		cfg = o.tlsConfig.Clone()
	}
	if o.caCertFile != "" {
		pem, err := os.ReadFile(o.caCertFile)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate: no PEM certificate in %s", o.caCertFile)
		}
		cfg.RootCAs = pool
	}
	if (o.clientCertFile == "") != (o.clientKeyFile == "") {
		return nil, errors.New("a client certificate and its key go together")
	}
	if o.clientCertFile != "" {
		pair, err := tls.LoadX509KeyPair(o.clientCertFile, o.clientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = append(cfg.Certificates, pair)
	}
	return cfg, nil
}
