package taskstate

import (
	"strings"
	"testing"
)

// The TLS default rule of every taskstate client: explicit option, then
// scheme, then loopback host.
func TestChooseTransport(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		opts    []Option
		target  string
		wantTLS bool
	}{
		// 3. by host
		{"tasks.example.com:50051", nil, "tasks.example.com:50051", true},
		{"10.0.0.7:50051", nil, "10.0.0.7:50051", true},
		{"dns:///tasks.example.com:443", nil, "dns:///tasks.example.com:443", true},
		{"127.0.0.1:50051", nil, "127.0.0.1:50051", false},
		{"127.9.9.9:1", nil, "127.9.9.9:1", false},
		{"localhost:50051", nil, "localhost:50051", false},
		{"[::1]:50051", nil, "[::1]:50051", false},
		{"unix:///tmp/taskstate.sock", nil, "unix:///tmp/taskstate.sock", false},
		// 2. by scheme, which beats the host
		{"https://127.0.0.1:50051", nil, "127.0.0.1:50051", true},
		{"HTTPS://localhost:8443/", nil, "localhost:8443", true},
		{"https://tasks.example.com", nil, "tasks.example.com:443", true},
		{"http://tasks.example.com:50051", nil, "tasks.example.com:50051", false},
		{"http://[::1]", nil, "[::1]:80", false},
		// 1. explicit options, which beat scheme and host
		{"tasks.example.com:50051", []Option{WithInsecure()}, "tasks.example.com:50051", false},
		{"https://tasks.example.com:50051", []Option{WithInsecure()}, "tasks.example.com:50051", false},
		{"127.0.0.1:50051", []Option{WithTLS(nil)}, "127.0.0.1:50051", true},
		{"http://localhost:50051", []Option{WithCACert("ca.pem")}, "localhost:50051", true},
		{"127.0.0.1:50051", []Option{WithClientCert("c.pem", "k.pem")}, "127.0.0.1:50051", true},
		{"127.0.0.1:50051", []Option{WithInsecure(), WithTLS(nil)}, "127.0.0.1:50051", true},
		{"example.com:1", []Option{WithTLS(nil), WithInsecure()}, "example.com:1", false},
		// empty file options are "not given"
		{"127.0.0.1:50051", []Option{WithCACert(""), WithClientCert("", "")}, "127.0.0.1:50051", false},
	} {
		o := buildOptions(tc.opts)
		target, useTLS, err := chooseTransport(tc.addr, &o)
		if err != nil || target != tc.target || useTLS != tc.wantTLS {
			t.Errorf("chooseTransport(%q, %d opts) = %q, tls=%v, %v; want %q, tls=%v", tc.addr, len(tc.opts), target, useTLS, err, tc.target, tc.wantTLS)
		}
	}
	o := buildOptions([]Option{WithCACert("ca.pem"), WithInsecure()})
	if _, _, err := chooseTransport("127.0.0.1:1", &o); err == nil || !strings.Contains(err.Error(), "WithInsecure") {
		t.Errorf("insecure with a CA file: %v", err)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		addr    string
		wantTLS bool
		token   string
	}{
		{map[string]string{}, DefaultAddress, false, ""},
		{map[string]string{EnvAddress: "tasks.example.com:50051", EnvToken: "t1"}, "tasks.example.com:50051", true, "t1"},
		{map[string]string{EnvAddress: "tasks.example.com:50051", EnvTLS: "false"}, "tasks.example.com:50051", false, ""},
		{map[string]string{EnvAddress: "https://127.0.0.1:9"}, "127.0.0.1:9", true, ""},
		{map[string]string{EnvTLS: "TRUE"}, DefaultAddress, true, ""},
		{map[string]string{EnvCACert: "/ca.pem"}, DefaultAddress, true, ""},
		{map[string]string{EnvClientCert: "/c.pem", EnvClientKey: "/k.pem"}, DefaultAddress, true, ""},
	} {
		for _, k := range []string{EnvAddress, EnvToken, EnvTLS, EnvCACert, EnvClientCert, EnvClientKey} {
			t.Setenv(k, tc.env[k])
		}
		opts, err := OptionsFromEnv()
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		o := buildOptions(opts)
		target, useTLS, err := chooseTransport(AddressFromEnv(), &o)
		if err != nil || target != tc.addr || useTLS != tc.wantTLS || o.token != tc.token {
			t.Errorf("env %v: %q tls=%v token=%q %v", tc.env, target, useTLS, o.token, err)
		}
		if o.caCertFile != tc.env[EnvCACert] || o.clientCertFile != tc.env[EnvClientCert] || o.clientKeyFile != tc.env[EnvClientKey] {
			t.Errorf("env %v: files %+v", tc.env, o)
		}
	}
	t.Setenv(EnvTLS, "maybe")
	if _, err := OptionsFromEnv(); err == nil || !strings.Contains(err.Error(), EnvTLS) {
		t.Errorf("TASKSTATE_TLS=maybe: %v", err)
	}
}
