package taskstate_test

// Helpers over internal/testserver, which runs the REAL Python server (a
// missing server fails the tests, it never skips them).

import (
	"context"
	"testing"
	"time"

	"github.com/taskstate/taskstate/clients/go/internal/testserver"
	"github.com/taskstate/taskstate/clients/go/taskstate"
)

type serverConfig = testserver.Config

func startServer(t testing.TB, cfg serverConfig) *testserver.Server { return testserver.Start(t, cfg) }

func startProxy(t testing.TB, upstream string) *testserver.Proxy {
	return testserver.StartProxy(t, upstream)
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

// quickResume makes resuming watches reconnect fast after a proxy drop.
var quickResume = taskstate.WithWatchRetry(taskstate.RetryPolicy{
	MaxAttempts: 50, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
})
