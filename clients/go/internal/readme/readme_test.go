// Package readme runs the Go examples of the READMEs as written: every ```go
// block of clients/go/README.md and of the root README's "## Go" section,
// except those after a "<!-- not-run -->" line, against a fresh server
// configured like `make run` (SQLite, no tokens, loopback).
//
// A block is either a complete program (it starts with "package main") or
// the body of a func run(ctx context.Context) error. The programs are built
// in a scratch module that uses this one through a replace directive, as the
// README tells users to, with no network.
package readme

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskstate/taskstate/clients/go/internal/testserver"
)

const modulePath = "github.com/taskstate/taskstate/clients/go"

// block is one fenced code block.
type block struct {
	where string // file:line, for failures
	code  string
}

// goBlocks returns the runnable ```go blocks of a markdown file, from the
// line starting with section (all of it if "") to the next "## " heading.
func goBlocks(t *testing.T, path, section string) []block {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *strings.Builder
	inSection, skipNext, start, prev := section == "", false, 0, ""
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			if !skipNext {
				out = append(out, block{where: fmt.Sprintf("%s:%d", filepath.Base(path), start), code: cur.String()})
			}
			cur, skipNext = nil, false
		case cur != nil:
			cur.WriteString(line + "\n")
		case section != "" && strings.HasPrefix(line, "## "):
			inSection = strings.TrimSpace(line) == section
		case strings.HasPrefix(line, "```"):
			if inSection && strings.TrimSpace(line) == "```go" {
				cur, start = &strings.Builder{}, n
				skipNext = strings.TrimSpace(prev) == "<!-- not-run -->"
			} else {
				cur, skipNext = &strings.Builder{}, true // another language or section: skipped
			}
		}
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	return out
}

// imports are those a run body may use; each is referenced once so that a
// body need not use them all.
var imports = map[string]string{
	"context":                       "context.Background",
	"errors":                        "errors.Is",
	"fmt":                           "fmt.Sprint",
	"log":                           "log.Printf",
	"math":                          "math.MaxInt64",
	"os":                            "os.Getenv",
	"time":                          "time.Second",
	"google.golang.org/grpc/codes":  "codes.OK",
	"google.golang.org/grpc/status": "status.Code",
	modulePath + "/taskstate":       "taskstate.Version",
	"google.golang.org/protobuf/types/known/structpb": "structpb.NewNullValue",
}

// program turns run bodies into one main package that runs them in turn.
func program(bodies []block) string {
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n")
	for path := range imports {
		fmt.Fprintf(&b, "\t%q\n", path)
	}
	b.WriteString(")\n\nvar (\n")
	for _, use := range imports {
		fmt.Fprintf(&b, "\t_ = %s\n", use)
	}
	b.WriteString(")\n\n")
	for i, blk := range bodies {
		fmt.Fprintf(&b, "// %s\nfunc run%d(ctx context.Context) error {\n%s\treturn nil\n}\n\n", blk.where, i, blk.code)
	}
	b.WriteString("func main() {\n\tfailed := false\n\tfor i, run := range []func(context.Context) error{")
	for i := range bodies {
		fmt.Fprintf(&b, "run%d, ", i)
	}
	b.WriteString("} {\n\t\tctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)\n")
	b.WriteString("\t\terr := run(ctx)\n\t\tcancel()\n")
	b.WriteString("\t\tif err != nil {\n\t\t\tfmt.Fprintf(os.Stderr, \"run%d: %v\\n\", i, err)\n\t\t\tfailed = true\n\t\t}\n\t}\n")
	b.WriteString("\tif failed {\n\t\tos.Exit(1)\n\t}\n}\n")
	return b.String()
}

// scratchModule writes a module that requires this one through a replace
// directive (the README's "Use it from a checkout"), with this module's
// requirements and go.sum so that nothing is downloaded.
func scratchModule(t *testing.T, clientDir string) string {
	t.Helper()
	dir := t.TempDir()
	ours, err := os.ReadFile(filepath.Join(clientDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := string(ours)
	reqs = reqs[strings.Index(reqs, "\nrequire"):]
	mod := fmt.Sprintf("module readmecheck\n\ngo 1.26.0\n\nrequire %s v0.0.0\n\nreplace %s => %s\n%s", modulePath, modulePath, clientDir, reqs)
	sum, err := os.ReadFile(filepath.Join(clientDir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadmeExamplesRun(t *testing.T) {
	root := testserver.RepoRoot(t)
	clientDir := filepath.Join(root, "clients", "go")
	files := map[string][]block{
		"clients/go/README.md": goBlocks(t, filepath.Join(clientDir, "README.md"), ""),
		"README.md (## Go)":    goBlocks(t, rootReadme(root), "## Go"),
	}
	var bodies []block
	var programs []block
	for name, blocks := range files {
		if len(blocks) == 0 {
			t.Fatalf("%s: no runnable go block found", name)
		}
		for _, b := range blocks {
			if strings.HasPrefix(strings.TrimSpace(b.code), "package main") {
				programs = append(programs, b)
			} else {
				bodies = append(bodies, b)
			}
		}
	}
	if len(bodies) > 0 {
		programs = append(programs, block{where: "run bodies", code: program(bodies)})
	}

	mod := scratchModule(t, clientDir)
	for i, p := range programs {
		dir := filepath.Join(mod, fmt.Sprintf("cmd%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(p.code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(mod, "bin")
	build := exec.Command(goTool(), "build", "-o", bin+string(filepath.Separator), "./...")
	build.Dir = mod
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README examples do not build: %v\n%s\n%s", err, out, listing(programs))
	}

	// Like `make run`: SQLite, no tokens, anonymous on loopback.
	srv := testserver.Start(t, testserver.Config{Store: "sqlite:///" + filepath.Join(t.TempDir(), "taskstate.db")})
	env := []string{"TASKSTATE_ADDRESS=" + srv.Addr}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TASKSTATE_") {
			env = append(env, kv)
		}
	}
	for i, p := range programs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		run := exec.CommandContext(ctx, filepath.Join(bin, fmt.Sprintf("cmd%d", i)))
		run.Env = env
		out, err := run.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("%s failed: %v\n%s", p.where, err, out)
		} else {
			t.Logf("%s:\n%s", p.where, out)
		}
	}
	if t.Failed() {
		t.Logf("programs:\n%s", listing(programs))
	}
}

// rootReadme is the root README, or $TASKSTATE_ROOT_README to check a draft.
func rootReadme(root string) string {
	if p := os.Getenv("TASKSTATE_ROOT_README"); p != "" {
		return p
	}
	return filepath.Join(root, "README.md")
}

func goTool() string {
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		return p
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func listing(programs []block) string {
	var b strings.Builder
	for i, p := range programs {
		fmt.Fprintf(&b, "--- cmd%d (%s)\n%s\n", i, p.where, p.code)
	}
	return b.String()
}
