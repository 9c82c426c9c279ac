package taskstate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// Version is this client's version, sent in the user agent.
const Version = "0.1.0"

type transportMode int

const (
	transportAuto transportMode = iota
	transportTLS
	transportInsecure
)

type options struct {
	token          string
	transport      transportMode
	tlsConfig      *tls.Config
	caCertFile     string
	clientCertFile string
	clientKeyFile  string
	plaintextToken bool
	defaultTimeout time.Duration
	block          bool
	dialOptions    []grpc.DialOption
	updateRetry    RetryPolicy
	watchRetry     RetryPolicy
	subject        string
}

// Option configures Dial and New.
type Option func(*options)

// WithToken sends "authorization: Bearer <token>" with every call (per-RPC
// credentials). Over a plaintext connection the token is sent only to a
// loopback address (localhost, 127.0.0.0/8, ::1) unless WithPlaintextToken is
// also given; otherwise calls fail with UNAUTHENTICATED before anything is sent.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithTLS connects over TLS with the given configuration (nil: the system
// roots and default settings). TLS is already the default for non-loopback
// addresses and https:// ones; WithCACert and WithClientCert add to cfg.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) { o.transport = transportTLS; o.tlsConfig = cfg }
}

// WithInsecure connects in plaintext. It is the default for loopback and
// http:// addresses. Of WithTLS and WithInsecure, the last one given wins.
func WithInsecure() Option { return func(o *options) { o.transport = transportInsecure } }

// WithPlaintextToken allows the token of WithToken to travel over a plaintext
// connection to a non-loopback address (e.g. inside a private network). Think twice.
func WithPlaintextToken() Option { return func(o *options) { o.plaintextToken = true } }

// WithDefaultTimeout sets the deadline of unary calls whose context has none.
// It does not apply to streams (Watch, WatchTask, WatchTasks) nor to WaitTask,
// whose deadline follows its own timeout. 0 (the default) means none.
func WithDefaultTimeout(d time.Duration) Option { return func(o *options) { o.defaultTimeout = d } }

// WithBlock makes Dial wait until the connection is ready (or ctx ends).
// Without it Dial returns at once and connects on the first call.
func WithBlock() Option { return func(o *options) { o.block = true } }

// WithDialOptions adds gRPC dial options (interceptors, keepalive, ...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithUpdateRetry sets the retry policy of Update (see DefaultUpdateRetry).
func WithUpdateRetry(p RetryPolicy) Option { return func(o *options) { o.updateRetry = p } }

// WithWatchRetry sets how Watch resumes after a dropped stream (see DefaultWatchRetry).
func WithWatchRetry(p RetryPolicy) Option { return func(o *options) { o.watchRetry = p } }

// WithSubject makes every call act on behalf of this end user (the
// taskstate-subject metadata, 1 to 256 printable bytes; "" means none):
// CreateTask records it on the task, and every other call sees only that
// subject's tasks (another subject's task is ErrNotFound). Without it a call
// sees all of the owner's tasks, as a worker or an operator does. See also
// Client.WithSubject.
func WithSubject(subject string) Option { return func(o *options) { o.subject = subject } }

// Client is a taskstate client. It is safe for concurrent use.
type Client struct {
	raw      taskstatev1.TaskServiceClient
	conn     *grpc.ClientConn // owned: closed by Close; nil for New
	cc       grpc.ClientConnInterface
	opts     options
	callOpts []grpc.CallOption
	tokenOK  bool // the token may travel in plaintext over cc
}

func buildOptions(opts []Option) options {
	o := options{updateRetry: DefaultUpdateRetry, watchRetry: DefaultWatchRetry}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Dial creates a client for the server at addr: "host:port",
// "https://host:port", "http://host:port", or any gRPC target such as
// "dns:///host:port" or "unix:///path". Close the client when done.
//
// TLS or plaintext is decided by the rule every taskstate client shares; the
// first step that applies wins:
//
//  1. an explicit option: WithTLS, WithCACert or WithClientCert mean TLS,
//     WithInsecure plaintext;
//  2. the scheme: https:// means TLS, http:// plaintext;
//  3. the host: a loopback host (localhost, 127.0.0.0/8, ::1) means
//     plaintext, any other TLS with the system's root certificates.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	o := buildOptions(opts)
	target, useTLS, err := chooseTransport(addr, &o)
	if err != nil {
		return nil, fmt.Errorf("taskstate: dial %s: %w", addr, err)
	}
	loopback := isLoopbackTarget(target)
	plaintext := !useTLS
	creds := insecure.NewCredentials()
	if useTLS {
		cfg, err := tlsConfig(&o)
		if err != nil {
			return nil, fmt.Errorf("taskstate: dial %s: %w", addr, err)
		}
		creds = credentials.NewTLS(cfg)
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("taskstate-go/" + Version),
	}
	dopts = append(dopts, o.dialOptions...)
	conn, err := grpc.NewClient(target, dopts...)
	if err != nil {
		return nil, fmt.Errorf("taskstate: dial %s: %w", addr, err)
	}
	c := newClient(conn, o, !plaintext || loopback || o.plaintextToken)
	c.conn = conn
	if o.block {
		if err := waitReady(ctx, conn); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("taskstate: dial %s: %w", addr, err)
		}
	}
	return c, nil
}

// New creates a client over an existing connection, which the caller keeps
// owning (Close does not close it). The token of WithToken is sent over a
// plaintext connection only if the connection's target is a loopback address
// or WithPlaintextToken is given; transport options are ignored.
func New(conn grpc.ClientConnInterface, opts ...Option) *Client {
	o := buildOptions(opts)
	tokenOK := o.plaintextToken
	if cc, ok := conn.(*grpc.ClientConn); ok && isLoopbackTarget(cc.Target()) {
		tokenOK = true
	}
	return newClient(conn, o, tokenOK)
}

func newClient(conn grpc.ClientConnInterface, o options, plaintextTokenOK bool) *Client {
	c := &Client{raw: taskstatev1.NewTaskServiceClient(conn), cc: conn, opts: o, tokenOK: plaintextTokenOK}
	if o.token != "" || o.subject != "" {
		md := callMetadata{token: o.token, subject: o.subject, secure: o.token != "" && !plaintextTokenOK}
		c.callOpts = append(c.callOpts, grpc.PerRPCCredentials(md))
	}
	return c
}

// WithSubject returns a client acting on behalf of subject (see the
// WithSubject option; "" means none) that shares c's connection and
// options. Its Close does nothing: close c when done.
func (c *Client) WithSubject(subject string) *Client {
	o := c.opts
	o.subject = subject
	return newClient(c.cc, o, c.tokenOK)
}

// Subject returns the subject the client's calls carry ("" for none).
func (c *Client) Subject() string { return c.opts.subject }

// Close closes the connection Dial opened; it does nothing for a client made by New.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Raw returns the generated gRPC stub. Pass CallOptions() to its calls to
// authenticate them like the client's own.
func (c *Client) Raw() taskstatev1.TaskServiceClient { return c.raw }

// CallOptions returns the gRPC call options the client adds to every call
// (the per-RPC credentials of WithToken).
func (c *Client) CallOptions() []grpc.CallOption {
	return append([]grpc.CallOption(nil), c.callOpts...)
}

func waitReady(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if s == connectivity.Shutdown {
			return errors.New("connection closed")
		}
		if !conn.WaitForStateChange(ctx, s) {
			return ctx.Err()
		}
	}
}

// callMetadata is the per-RPC credential of WithToken and WithSubject (one
// value: gRPC keeps only the last PerRPCCredentials call option). It needs a
// secure transport only to protect a token.
type callMetadata struct {
	token   string
	subject string
	secure  bool
}

// subjectMetadata is the metadata key of WithSubject.
const subjectMetadata = "taskstate-subject"

func (m callMetadata) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	md := make(map[string]string, 2)
	if m.token != "" {
		md["authorization"] = "Bearer " + m.token
	}
	if m.subject != "" {
		md[subjectMetadata] = m.subject
	}
	return md, nil
}

func (m callMetadata) RequireTransportSecurity() bool { return m.secure }

// isLoopbackTarget reports whether a gRPC target names a loopback host.
func isLoopbackTarget(target string) bool {
	t := target
	if i := strings.Index(t, ":///"); i >= 0 {
		scheme := t[:i]
		t = t[i+4:]
		if scheme == "unix" || scheme == "unix-abstract" {
			return true
		}
	} else if strings.HasPrefix(t, "unix:") {
		return true
	}
	host := t
	if h, _, err := net.SplitHostPort(t); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// unaryCtx applies the default timeout to a context without a deadline.
func (c *Client) unaryCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.opts.defaultTimeout > 0 {
		if _, ok := ctx.Deadline(); !ok {
			return context.WithTimeout(ctx, c.opts.defaultTimeout)
		}
	}
	return ctx, func() {}
}
