package taskstate_test

// Test harness: runs the REAL Python server as a subprocess on an ephemeral
// port. The command is $TASKSTATE_SERVER_CMD (split on spaces) if set, else
// <repo>/.venv/bin/python -m taskstate_server. A missing server fails the
// tests; it never skips them.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// repoRoot is the repository root, found from this file's location
// (clients/go/taskstate/server_test.go).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

func serverCommand(t testing.TB) []string {
	t.Helper()
	if env := strings.TrimSpace(os.Getenv("TASKSTATE_SERVER_CMD")); env != "" {
		return strings.Fields(env)
	}
	py := filepath.Join(repoRoot(t), ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("taskstate server not found: %s is missing (run `make setup` at the repo root, or set TASKSTATE_SERVER_CMD)", py)
	}
	return []string{py, "-m", "taskstate_server"}
}

type server struct {
	Addr string

	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
}

func (s *server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

var listeningRE = regexp.MustCompile(`listening on (\S+:\d+)`)

type serverConfig struct {
	tokens map[string][]string
	args   []string
	listen string // default 127.0.0.1:0
	store  string // default memory://
}

// startServer starts a server and stops it when the test ends.
func startServer(t testing.TB, cfg serverConfig) *server {
	t.Helper()
	if cfg.listen == "" {
		cfg.listen = "127.0.0.1:0"
	}
	if cfg.store == "" {
		cfg.store = "memory://"
	}
	argv := append(serverCommand(t), "--listen", cfg.listen, "--store", cfg.store)
	if cfg.tokens != nil {
		raw, err := json.Marshal(cfg.tokens)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "tokens.json")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--auth-tokens", path)
	}
	argv = append(argv, cfg.args...)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = repoRoot(t)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start the taskstate server %q: %v", argv, err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.logs.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil && !sent {
				addrCh <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		close(addrCh)
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })

	select {
	case addr, ok := <-addrCh:
		if !ok {
			<-s.done
			t.Fatalf("taskstate server %q exited before listening:\n%s", argv, s.Logs())
		}
		s.Addr = addr
	case <-time.After(60 * time.Second):
		t.Fatalf("taskstate server %q did not report `listening on` within 60s:\n%s", argv, s.Logs())
	}
	return s
}

func (s *server) stop(t testing.TB) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	if t.Failed() {
		t.Logf("server logs:\n%s", s.Logs())
	}
}

// dial connects a new client (its own connection) and closes it at the end.
func dial(t testing.TB, addr string, opts ...taskstate.Option) *taskstate.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := taskstate.Dial(ctx, addr, append([]taskstate.Option{taskstate.WithDefaultTimeout(10 * time.Second), taskstate.WithBlock()}, opts...)...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// proxy is a TCP proxy to a server whose connections the test can cut, to
// simulate a dropped connection.
type proxy struct {
	Addr string

	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t testing.TB, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{Addr: ln.Addr().String(), ln: ln}
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = down.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, down, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, down); _ = up.Close(); _ = down.Close() }()
			go func() { _, _ = io.Copy(down, up); _ = up.Close(); _ = down.Close() }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); p.dropAll() })
	return p
}

// dropAll cuts every proxied connection.
func (p *proxy) dropAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	return n
}
