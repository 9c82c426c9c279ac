package taskstate_test

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
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// testPKI is a CA and the files of certificates it signed, made at test time.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	CAFile string
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "taskstate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key}
	p.CAFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func (p *testPKI) write(t *testing.T, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a certificate for 127.0.0.1 and localhost and returns the
// paths of its PEM certificate and key.
func (p *testPKI) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "PRIVATE KEY", keyDER)
}

// A TLS server on 127.0.0.1 is reached with the CA option, the https://
// scheme or the environment; loopback without options stays plaintext.
func TestTLSServer(t *testing.T) {
	pki := newPKI(t)
	cert, key := pki.issue(t, "server", x509.ExtKeyUsageServerAuth)
	srv := startServer(t, serverConfig{Args: []string{"--tls-cert", cert, "--tls-key", key}})
	_, port, _ := net.SplitHostPort(srv.Addr)
	ctx := testCtx(t, 30*time.Second)

	for name, c := range map[string]*taskstate.Client{
		"CA option":          dial(t, srv.Addr, taskstate.WithCACert(pki.CAFile)),
		"https scheme":       dial(t, "https://localhost:"+port, taskstate.WithCACert(pki.CAFile)),
		"WithTLS then files": dial(t, srv.Addr, taskstate.WithTLS(nil), taskstate.WithCACert(pki.CAFile)),
	} {
		task, err := c.CreateTask(ctx, taskstate.CreateTaskParams{RequestMethod: "tls"})
		if err != nil || task.Status != taskstate.StatusWorking {
			t.Fatalf("%s: %v %v", name, task, err)
		}
	}

	createFromEnv(t, map[string]string{taskstate.EnvAddress: "https://127.0.0.1:" + port, taskstate.EnvCACert: pki.CAFile})

	// Without the CA the system roots do not know the server; plaintext
	// (loopback's default) does not speak to it at all.
	for name, opts := range map[string][]taskstate.Option{
		"system roots":       {taskstate.WithTLS(nil)},
		"loopback plaintext": nil,
	} {
		c, err := taskstate.Dial(ctx, srv.Addr, append(opts, taskstate.WithDefaultTimeout(5*time.Second))...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CreateTask(ctx, taskstate.CreateTaskParams{})
		_ = c.Close()
		if taskstate.Code(err) != codes.Unavailable {
			t.Fatalf("%s against a TLS server: want UNAVAILABLE, got %v", name, err)
		}
		if name == "system roots" && !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("the error should say why: %v", err)
		}
	}

	if _, err := taskstate.Dial(ctx, srv.Addr, taskstate.WithCACert(filepath.Join(pki.dir, "missing.pem"))); err == nil {
		t.Fatal("a missing CA file must fail Dial")
	}
	if _, err := taskstate.Dial(ctx, srv.Addr, taskstate.WithClientCert(cert, "")); err == nil {
		t.Fatal("a client certificate without its key must fail Dial")
	}
}

// Mutual TLS: a server that requires client certificates accepts a client
// with WithClientCert (or TASKSTATE_CLIENT_CERT/KEY) and refuses one without.
func TestMutualTLS(t *testing.T) {
	pki := newPKI(t)
	cert, key := pki.issue(t, "server", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := pki.issue(t, "client", x509.ExtKeyUsageClientAuth)
	srv := startServer(t, serverConfig{Args: []string{"--tls-cert", cert, "--tls-key", key, "--tls-client-ca", pki.CAFile}})
	ctx := testCtx(t, 30*time.Second)

	c := dial(t, srv.Addr, taskstate.WithCACert(pki.CAFile), taskstate.WithClientCert(clientCert, clientKey))
	if _, err := c.CreateTask(ctx, taskstate.CreateTaskParams{}); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}

	createFromEnv(t, map[string]string{
		taskstate.EnvAddress: srv.Addr, taskstate.EnvCACert: pki.CAFile,
		taskstate.EnvClientCert: clientCert, taskstate.EnvClientKey: clientKey,
	})

	without, err := taskstate.Dial(ctx, srv.Addr, taskstate.WithCACert(pki.CAFile), taskstate.WithDefaultTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer without.Close()
	if _, err := without.CreateTask(ctx, taskstate.CreateTaskParams{}); taskstate.Code(err) != codes.Unavailable {
		t.Fatalf("without a client certificate: want UNAVAILABLE, got %v", err)
	}
}

// createFromEnv sets the environment, then creates a task through DialFromEnv.
func createFromEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx := testCtx(t, 30*time.Second)
	c, err := taskstate.DialFromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateTask(ctx, taskstate.CreateTaskParams{}); err != nil {
		t.Fatalf("DialFromEnv with %v: %v", env, err)
	}
}
