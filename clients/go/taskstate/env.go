package taskstate

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// DefaultAddress is where `make run` (and taskstate-server's default
// --listen) serves.
const DefaultAddress = "127.0.0.1:50051"

// The environment variables DialFromEnv reads, as the CLI and the other
// taskstate clients do.
const (
	EnvAddress    = "TASKSTATE_ADDRESS"     // host:port, https://host:port or http://host:port
	EnvToken      = "TASKSTATE_TOKEN"       // bearer token; unset or empty: none
	EnvTLS        = "TASKSTATE_TLS"         // true or false: forces TLS or plaintext
	EnvCACert     = "TASKSTATE_CA_CERT"     // PEM file of the CA to trust instead of the system roots
	EnvClientCert = "TASKSTATE_CLIENT_CERT" // PEM client certificate (mutual TLS), with EnvClientKey
	EnvClientKey  = "TASKSTATE_CLIENT_KEY"  // PEM private key of EnvClientCert
)

// AddressFromEnv returns $TASKSTATE_ADDRESS, or DefaultAddress if it is unset
// or empty.
func AddressFromEnv() string {
	if a := strings.TrimSpace(os.Getenv(EnvAddress)); a != "" {
		return a
	}
	return DefaultAddress
}

// OptionsFromEnv returns the options the environment asks for: WithToken
// from TASKSTATE_TOKEN, WithTLS or WithInsecure from TASKSTATE_TLS,
// WithCACert from TASKSTATE_CA_CERT and WithClientCert from
// TASKSTATE_CLIENT_CERT and TASKSTATE_CLIENT_KEY. Unset or empty variables
// add nothing; a TASKSTATE_TLS other than true/false (1/0, yes/no, on/off)
// is an error.
func OptionsFromEnv() ([]Option, error) {
	var opts []Option
	if tok := os.Getenv(EnvToken); tok != "" {
		opts = append(opts, WithToken(tok))
	}
	if v := strings.TrimSpace(os.Getenv(EnvTLS)); v != "" {
		switch strings.ToLower(v) {
		case "true", "1", "yes", "on":
			opts = append(opts, func(o *options) { o.transport = transportTLS })
		case "false", "0", "no", "off":
			opts = append(opts, WithInsecure())
		default:
			return nil, fmt.Errorf("taskstate: %s=%q: want true or false", EnvTLS, v)
		}
	}
	if ca := os.Getenv(EnvCACert); ca != "" {
		opts = append(opts, WithCACert(ca))
	}
	if cert, key := os.Getenv(EnvClientCert), os.Getenv(EnvClientKey); cert != "" || key != "" {
		opts = append(opts, WithClientCert(cert, key))
	}
	return opts, nil
}

// DialFromEnv dials AddressFromEnv() with OptionsFromEnv() followed by opts,
// which override them. With nothing set it reaches `make run`'s server on
// 127.0.0.1:50051 in plaintext, anonymously.
func DialFromEnv(ctx context.Context, opts ...Option) (*Client, error) {
	envOpts, err := OptionsFromEnv()
	if err != nil {
		return nil, err
	}
	return Dial(ctx, AddressFromEnv(), append(envOpts, opts...)...)
}
