// Package testserver runs the REAL Python taskstate server as a subprocess
// for tests, on an ephemeral port by default. The command is
// $TASKSTATE_SERVER_CMD (split on spaces) if set, else
// <repo>/.venv/bin/python -m taskstate_server. A missing server fails the
// test (t.Fatal); it never skips it.
package testserver

import (
	"bufio"
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
)

// RepoRoot is the repository root, found from this file's location
// (clients/go/internal/testserver/testserver.go).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the testserver source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", ".."))
}

// Command is the server command line (without flags).
func Command(t testing.TB) []string {
	t.Helper()
	if env := strings.TrimSpace(os.Getenv("TASKSTATE_SERVER_CMD")); env != "" {
		return strings.Fields(env)
	}
	py := filepath.Join(RepoRoot(t), ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("taskstate server not found: %s is missing (run `make setup` at the repo root, or set TASKSTATE_SERVER_CMD)", py)
	}
	return []string{py, "-m", "taskstate_server"}
}

// Config configures Start; the zero value is a memory store on an ephemeral
// loopback port with anonymous access.
type Config struct {
	// Tokens, if set, is written to a tokens file (owner -> tokens).
	Tokens map[string][]string
	// Args are extra server flags.
	Args []string
	// Listen defaults to 127.0.0.1:0.
	Listen string
	// Store defaults to memory://.
	Store string
}

// Server is a running server.
type Server struct {
	// Addr is the host:port the server reported listening on.
	Addr string

	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
}

// Logs returns what the server wrote to stderr so far.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

var listeningRE = regexp.MustCompile(`listening on (\S+:\d+)`)

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Store == "" {
		cfg.Store = "memory://"
	}
	argv := append(Command(t), "--listen", cfg.Listen, "--store", cfg.Store)
	if cfg.Tokens != nil {
		raw, err := json.Marshal(cfg.Tokens)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "tokens.json")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--auth-tokens", path)
	}
	argv = append(argv, cfg.Args...)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = RepoRoot(t)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start the taskstate server %q: %v", argv, err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	addrCh := make(chan string, 1)
	logged := make(chan struct{})
	go func() {
		defer close(logged)
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
	go func() {
		<-logged // Wait must not run before the pipe is drained
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.Stop(t) })

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

// Stop stops the server with SIGTERM (the server drains: watch streams end
// with UNAVAILABLE), killing it after 10 s. Stopping twice is fine.
func (s *Server) Stop(t testing.TB) {
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

// Proxy is a TCP proxy to a server whose connections a test can cut, to
// simulate a dropped connection.
type Proxy struct {
	Addr string

	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

// StartProxy starts a proxy to upstream, closed when the test ends.
func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln}
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
	t.Cleanup(func() { _ = ln.Close(); p.DropAll() })
	return p
}

// DropAll cuts every proxied connection and returns how many there were.
func (p *Proxy) DropAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	return n
}

// Close stops accepting connections and cuts the open ones: from then on the
// server looks unreachable (calls fail with UNAVAILABLE).
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.DropAll()
}
