package main

import (
	"bufio"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskstate/taskstate/clients/go/internal/testserver"
)

// TestConformance runs every vector of tests/conformance/vectors through the
// Go client against two fresh live servers configured like the conformance
// harness (tests/conformance/test_conformance.py).
func TestConformance(t *testing.T) {
	root := testserver.RepoRoot(t)
	vectors := filepath.Join(root, "tests", "conformance", "vectors")
	files, _ := filepath.Glob(filepath.Join(vectors, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no conformance vectors in %s", vectors)
	}
	tokens := map[string][]string{"alice": {"go-conformance-alice"}, "bob": {"go-conformance-bob"}}
	common := []string{"--max-variables-bytes", "65536", "--default-ttl", "1h", "--max-ttl", "24h", "--default-poll-interval", "1s"}
	mainSrv := testserver.Start(t, testserver.Config{Tokens: tokens, Args: append(append([]string{}, common...), "--max-active-tasks", "10000")})
	quotaSrv := testserver.Start(t, testserver.Config{Tokens: tokens, Args: append(append([]string{}, common...), "--max-active-tasks", "3")})
	e := &env{
		address:      mainSrv.Addr,
		quotaAddress: quotaSrv.Addr,
		tokens: map[string]string{
			"alice": "go-conformance-alice", "bob": "go-conformance-bob",
			"nobody": unknownToken, "anonymous": "",
		},
		vectorsDir: vectors,
	}
	var out strings.Builder
	passed, failed, err := run(e, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "FAIL ") {
			t.Error(line)
		}
	}
	if failed != 0 || passed != len(files) {
		t.Fatalf("%d passed, %d failed, %d vectors", passed, failed, len(files))
	}
}
