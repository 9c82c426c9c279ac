// Command driver is the Go conformance driver (tests/conformance/drivers/go):
// it turns each JSON request line on stdin into one call of the idiomatic Go
// client and writes one JSON response line to stdout. The engine
// (tests/conformance/engine) owns the vectors, substitutions and matching;
// /work/notes/DRIVER_PROTOCOL.md is the contract this program implements.
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

// request is one line of stdin. Args keep numbers as json.Number so that
// integers reach the client exactly.
type request struct {
	ID     json.RawMessage `json:"id"`
	Op     string          `json:"op"`
	Target *target         `json:"target"`
	Args   map[string]any  `json:"args"`
}

// target says which server to call and as whom; Token nil sends no
// authorization at all.
type target struct {
	Address string  `json:"address"`
	Token   *string `json:"token"`
}

// output serialises whole response lines, since requests answer concurrently.
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

// serve answers one request line.
func (d *driver) serve(line []byte, out *output) {
	var req request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || req.ID == nil {
		fmt.Fprintf(os.Stderr, "go driver: unreadable request %q: %v\n", line, err)
		return
	}
	v, err := d.dispatch(&req)
	resp := map[string]any{"id": req.ID}
	var te *failure
	switch {
	case err == nil:
		resp["ok"] = v
	case errors.As(err, &te):
		resp["failure"] = te.Error()
	default:
		if e := serverError(err); e != nil {
			resp["error"] = errorView(e)
		} else {
			resp["failure"] = "client error without a server status: " + err.Error()
		}
	}
	out.send(resp)
}
