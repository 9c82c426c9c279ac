// Command driver is the Go conformance driver: it turns each JSON request
// line on stdin into one call of the idiomatic Go client and writes one JSON
// answer line to stdout. The engine (tests/conformance/engine) owns the
// vectors, substitutions and matching; this program only speaks the driver
// protocol (tests/conformance/README.md).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// request is one line of stdin; Args is decoded per op (see decodeStrict).
type request struct {
	ID     json.RawMessage `json:"id"`
	Op     string          `json:"op"`
	Target *target         `json:"target"`
	Args   json.RawMessage `json:"args"`
}

// target says which server to call and as whom; Token nil sends no
// authorization at all, Subject nil no taskstate-subject.
type target struct {
	Address string  `json:"address"`
	Token   *string `json:"token"`
	Subject *string `json:"subject"`
}

// failure is an answer that is neither a result nor a server error: a bad
// request, an unknown op or arg, a driver bug. The engine fails the scenario.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func failf(format string, a ...any) error { return &failure{fmt.Sprintf(format, a...)} }

// output writes whole answer lines, one at a time: requests answer concurrently.
type output struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *output) send(v map[string]any) {
	line, err := json.Marshal(v)
	if err != nil {
		line, _ = json.Marshal(map[string]any{"id": v["id"], "failure": "driver: encoding the answer: " + err.Error()})
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.w.Write(append(line, '\n'))
	_ = o.w.Flush()
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "go driver: reading stdin:", err)
	}
	os.Exit(0) // stdin closed: abandon whatever still runs
}

// run says hello, then serves each request line in its own goroutine until
// in ends; it does not wait for the requests still running.
func run(in io.Reader, w io.Writer) error {
	out := &output{w: bufio.NewWriter(w)}
	out.send(map[string]any{"hello": "go"})
	d := newDriver()
	r := bufio.NewReaderSize(in, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 && err == nil {
			go d.serve(line, out)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// serve answers one request line: ok, a server error, or a failure.
func (d *driver) serve(line []byte, out *output) {
	var req request
	if err := json.Unmarshal(line, &req); err != nil || req.ID == nil {
		fmt.Fprintf(os.Stderr, "go driver: unreadable request %q: %v\n", line, err)
		return
	}
	v, err := d.dispatch(&req)
	resp := map[string]any{"id": req.ID}
	var f *failure
	switch {
	case err == nil:
		resp["ok"] = v
	case errors.As(err, &f):
		resp["failure"] = f.Error()
	case serverError(err) != nil:
		resp["error"] = errorView(serverError(err))
	default:
		resp["failure"] = "client error without a server status: " + err.Error()
	}
	out.send(resp)
}
