//! Integration tests against the real Python server (see tests/common/mod.rs).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

#[cfg(feature = "tls")]
use common::TestPki;
use common::{Server, ServerConfig, TempDir};
use futures_util::StreamExt;
use serde_json::{json, Value};
use taskstate_client::{
    Client, ClientOptions, Code, Completion, ErrorKind, ErrorOrigin, ListOptions, NewTask, Task,
    TaskError, TaskField, TaskStatus, TaskView, TlsOptions, Variables, WatchAllOptions,
};

fn vars(v: Value) -> Variables {
    v.as_object().expect("an object").clone()
}

async fn next_task(stream: &mut taskstate_client::TaskStream) -> Task {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("timed out waiting for the stream")
        .expect("the stream ended")
        .expect("the stream failed")
}

#[tokio::test]
async fn crud_round_trip() {
    let server = Server::start().await;
    let c = server.client().await;

    let t = c
        .create(
            NewTask::new()
                .request_method("tools/call")
                .ttl(Duration::from_secs(600))
                .poll_interval(Duration::from_millis(500))
                .variable("a", 1)
                .variable("nested", json!({"x": [1, "two", null, true]}))
                .variable("gone", Value::Null),
        )
        .await
        .unwrap();
    assert_eq!(t.status, TaskStatus::Working);
    assert_eq!(t.version, 1);
    assert_eq!(t.request_method, "tools/call");
    assert_eq!(t.ttl, Some(Duration::from_secs(600)));
    assert_eq!(t.poll_interval, Some(Duration::from_millis(500)));
    assert!(t.expire_time.is_some() && t.create_time.is_some() && t.update_time.is_some());
    assert_eq!(
        t.variables,
        vars(json!({"a": 1, "nested": {"x": [1, "two", null, true]}}))
    );
    assert_eq!(t.result, None);
    assert_eq!(t.task_id.len(), 36);

    let got = c.get(&t.task_id).await.unwrap();
    assert_eq!(got, t);

    // Idempotent create.
    let first = c.create(NewTask::new().request_id("req-1")).await.unwrap();
    let again = c.create(NewTask::new().request_id("req-1")).await.unwrap();
    assert_eq!(first.task_id, again.task_id);

    let page = c.list(ListOptions::default()).await.unwrap();
    let ids: Vec<_> = page.tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![first.task_id.as_str(), t.task_id.as_str()],
        "newest first"
    );

    let t2 = c
        .update_status(
            &t.task_id,
            TaskStatus::InputRequired,
            "need a file",
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(
        (t2.status, t2.status_message.as_str(), t2.version),
        (TaskStatus::InputRequired, "need a file", 2)
    );

    let t3 = c
        .set_variables(&t.task_id, vars(json!({"a": null, "b": "bee"})), None)
        .await
        .unwrap();
    assert_eq!(
        t3.variables,
        vars(json!({"b": "bee", "nested": {"x": [1, "two", null, true]}}))
    );
    let t3 = c.set_variable(&t.task_id, "n", json!(2.5)).await.unwrap();
    assert_eq!(t3.variables["n"], json!(2.5));

    let mut values = t3.clone();
    values.status = TaskStatus::Working;
    values.variables = vars(json!({"only": true}));
    values.status_message = "ignored: not in the mask".into();
    let t4 = c
        .put_if_version(
            &t.task_id,
            t3.version,
            &values,
            &[TaskField::Status, TaskField::Variables],
        )
        .await
        .unwrap();
    assert_eq!(t4.status, TaskStatus::Working);
    assert_eq!(t4.variables, vars(json!({"only": true})));
    assert_eq!(t4.status_message, "need a file");
    assert_eq!(t4.version, t3.version + 1);

    let done = c
        .complete(
            &t.task_id,
            Completion::completed(json!({"answer": 42}))
                .message("done")
                .variables(vars(json!({"k": "v"}))),
        )
        .await
        .unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert!(done.is_terminal());
    assert_eq!(done.result, Some(json!({"answer": 42})));
    assert_eq!(done.variables["k"], json!("v"));
    assert_eq!(done.status_message, "done");

    let f = c.create(NewTask::new()).await.unwrap();
    let failed = c
        .fail(
            &f.task_id,
            TaskError::new(-32000, "boom").with_data(json!({"why": "because"})),
        )
        .await
        .unwrap();
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(
        failed.error,
        Some(TaskError::new(-32000, "boom").with_data(json!({"why": "because"})))
    );

    let x = c.create(NewTask::new()).await.unwrap();
    let cancelled = c.cancel(&x.task_id, "no longer needed").await.unwrap();
    assert_eq!(cancelled.status, TaskStatus::Cancelled);

    // list with a status filter, and list_all walking pages.
    let page = c
        .list(ListOptions {
            statuses: vec![TaskStatus::Failed],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.tasks.len(), 1);
    assert_eq!(page.tasks[0].task_id, f.task_id);
    for _ in 0..5 {
        c.create(NewTask::new()).await.unwrap();
    }
    let page = c
        .list(ListOptions {
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.tasks.len(), 3);
    assert!(!page.next_page_token.is_empty());
    let all: Vec<Task> = c
        .list_all(ListOptions::default())
        .map(|r| r.unwrap())
        .collect()
        .await;
    let unique: HashSet<_> = all.iter().map(|t| t.task_id.clone()).collect();
    assert_eq!(all.len(), 9);
    assert_eq!(unique.len(), 9);

    c.delete(&t.task_id).await.unwrap();
    let err = c.get(&t.task_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskNotFound);
}

#[tokio::test]
async fn typed_errors_carry_reason_and_metadata() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(NewTask::new()).await.unwrap();

    let err = c
        .get("0190a8c4-0000-7000-8000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.code_name(), "NOT_FOUND");
    assert_eq!(err.reason(), Some("TASK_NOT_FOUND"));
    assert_eq!(err.domain(), Some("taskstate.dev"));
    assert_eq!(err.origin(), ErrorOrigin::Server);
    assert!(err.is_not_found());

    let err = c
        .set_variables(&t.task_id, vars(json!({"a": 1})), Some(7))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(err.reason(), Some("VERSION_MISMATCH"));
    assert_eq!(
        err.metadata().get("expected_version").map(String::as_str),
        Some("7")
    );
    assert_eq!(
        err.metadata().get("actual_version").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        err.kind(),
        ErrorKind::VersionMismatch {
            expected: Some(7),
            actual: Some(1)
        }
    );
    assert!(err.is_version_mismatch());

    let err = c
        .update_status(&t.task_id, TaskStatus::Working, "", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.kind(), ErrorKind::InvalidTransition);

    c.cancel(&t.task_id, "").await.unwrap();
    let err = c.set_variable(&t.task_id, "a", json!(1)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.reason(), Some("TASK_TERMINAL"));
    assert_eq!(err.kind(), ErrorKind::TaskTerminal);

    let err = c.get("not-a-uuid").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.reason(), Some("INVALID_ARGUMENT"));
    assert!(!err.field_violations().is_empty(), "{err:?}");
    assert_eq!(err.field_violations()[0].field, "task_id");

    let err = c
        .create(NewTask::new().ttl(Duration::from_secs(3 * 24 * 3600)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().starts_with("INVALID_ARGUMENT: "), "{err}");
}

#[tokio::test]
async fn quota_and_size_limits() {
    let server = Server::start_with(ServerConfig {
        extra: vec![
            "--max-active-tasks".into(),
            "2".into(),
            "--max-variables-bytes".into(),
            "1024".into(),
        ],
        ..Default::default()
    })
    .await;
    let c = server.client().await;
    let err = c
        .create(NewTask::new().variable("big", "x".repeat(2048)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(err.kind(), ErrorKind::VariablesTooLarge);
    c.create(NewTask::new()).await.unwrap();
    c.create(NewTask::new()).await.unwrap();
    let err = c.create(NewTask::new()).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(err.reason(), Some("TASK_QUOTA_EXCEEDED"));
}

#[tokio::test]
async fn auth_and_owner_isolation() {
    let server = Server::start_with(ServerConfig {
        auth: true,
        ..Default::default()
    })
    .await;
    let alice = server.alice().await;
    let bob = server.bob().await;
    let t = alice.create(NewTask::new()).await.unwrap();
    let err = bob.get(&t.task_id).await.unwrap_err();
    assert_eq!(err.reason(), Some("TASK_NOT_FOUND"));
    assert!(bob
        .list(ListOptions::default())
        .await
        .unwrap()
        .tasks
        .is_empty());

    let anonymous = server.client().await;
    let err = anonymous.get(&t.task_id).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    let stranger = server
        .client_with(ClientOptions::with_token("who-knows"))
        .await;
    assert_eq!(
        stranger.get(&t.task_id).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_is_exact_under_contention() {
    const WORKERS: usize = 8;
    const INCREMENTS: usize = 10;
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(NewTask::new().variable("n", 0)).await.unwrap();

    let mut handles = Vec::new();
    for _ in 0..WORKERS {
        let addr = server.addr.clone();
        let id = t.task_id.clone();
        handles.push(tokio::spawn(async move {
            // Each worker has its own connection.
            let client = Client::connect(&addr, ClientOptions::default())
                .await
                .unwrap();
            for _ in 0..INCREMENTS {
                client
                    .update(&id, |task| {
                        let n = task.variables.get("n").and_then(Value::as_i64).unwrap_or(0);
                        task.variables.insert("n".into(), json!(n + 1));
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let end = c.get(&t.task_id).await.unwrap();
    assert_eq!(
        end.variables["n"].as_i64(),
        Some((WORKERS * INCREMENTS) as i64)
    );
    assert_eq!(end.version, 1 + (WORKERS * INCREMENTS) as u64);

    // ttl: a new one renews expire_time, None removes the expiry.
    let renewed = c
        .update(&t.task_id, |task| {
            task.ttl = Some(Duration::from_secs(7200))
        })
        .await
        .unwrap();
    assert_eq!(renewed.ttl, Some(Duration::from_secs(7200)));
    assert!(renewed.expire_time > end.expire_time);
    let forever = c.update(&t.task_id, |task| task.ttl = None).await.unwrap();
    assert_eq!((forever.ttl, forever.expire_time), (None, None));
    let end = forever;

    // A closure that changes nothing writes nothing.
    let same = c.update(&t.task_id, |_| {}).await.unwrap();
    assert_eq!(same.version, end.version);

    // try_update: the closure's own error stops the loop.
    #[derive(Debug)]
    enum MyError {
        Client(#[allow(dead_code)] taskstate_client::Error),
        Refused,
    }
    impl From<taskstate_client::Error> for MyError {
        fn from(e: taskstate_client::Error) -> Self {
            MyError::Client(e)
        }
    }
    let r = c.try_update(&t.task_id, |_| Err(MyError::Refused)).await;
    assert!(matches!(r, Err(MyError::Refused)));

    // update writes status and result too, and fails on a terminal task.
    let done = c
        .update(&t.task_id, |task| {
            task.status = TaskStatus::Completed;
            task.result = Some(json!("ok"));
        })
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.result.clone()),
        (TaskStatus::Completed, Some(json!("ok")))
    );
    let err = c
        .update(&t.task_id, |task| task.status_message = "x".into())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskTerminal);
}

#[tokio::test]
async fn wait_returns_on_status_or_timeout() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(NewTask::new()).await.unwrap();

    let started = Instant::now();
    let w = c
        .wait(&t.task_id, Some(Duration::from_millis(300)), &[])
        .await
        .unwrap();
    assert_eq!(w.status, TaskStatus::Working);
    assert!(started.elapsed() >= Duration::from_millis(250));

    let waiter = {
        let c = c.clone();
        let id = t.task_id.clone();
        tokio::spawn(async move {
            c.wait(
                &id,
                Some(Duration::from_secs(20)),
                &[TaskStatus::InputRequired],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.update_status(&t.task_id, TaskStatus::InputRequired, "", None)
        .await
        .unwrap();
    let w = waiter.await.unwrap().unwrap();
    assert_eq!(w.status, TaskStatus::InputRequired);

    let waiter = {
        let c = c.clone();
        let id = t.task_id.clone();
        tokio::spawn(async move { c.wait(&id, None, &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.complete(&t.task_id, Completion::completed(json!(1)))
        .await
        .unwrap();
    let w = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(w.status, TaskStatus::Completed);

    let err = c
        .wait("0190a8c4-0000-7000-8000-000000000000", None, &[])
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn watch_streams_versions_and_ends() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(NewTask::new()).await.unwrap();
    let mut w = c.watch(&t.task_id, 0);
    assert_eq!(next_task(&mut w).await.version, 1);
    c.set_variable(&t.task_id, "a", json!(1)).await.unwrap();
    assert_eq!(next_task(&mut w).await.version, 2);
    c.complete(&t.task_id, Completion::completed(json!("r")))
        .await
        .unwrap();
    let last = next_task(&mut w).await;
    assert_eq!((last.version, last.status), (3, TaskStatus::Completed));
    assert!(
        w.next().await.is_none(),
        "the stream ends after the terminal version"
    );

    // After the terminal version there is nothing more; before it, the terminal one.
    assert!(c.watch(&t.task_id, 3).next().await.is_none());
    let versions: Vec<u64> = c
        .watch(&t.task_id, 1)
        .map(|r| r.unwrap().version)
        .collect()
        .await;
    assert_eq!(versions.last(), Some(&3));

    // NOT_FOUND: unknown task, and a task deleted while watched.
    let err = c
        .watch("0190a8c4-0000-7000-8000-000000000000", 0)
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskNotFound);
    let d = c.create(NewTask::new()).await.unwrap();
    let mut w = c.watch(&d.task_id, 0);
    assert_eq!(next_task(&mut w).await.version, 1);
    c.delete(&d.task_id).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(20), w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.reason(), Some("TASK_NOT_FOUND"));
    assert!(w.next().await.is_none());
}

/// The watch survives the server going away twice (SIGKILL: the connection drops; SIGTERM:
/// the server ends streams with UNAVAILABLE) and resumes from the last version seen, against
/// a server restarted on the same port over the same SQLite file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_after_server_restarts() {
    let db = TempDir::new("db");
    let store = format!("sqlite:///{}", db.path().join("ts.db").display());
    let mut server = Server::start_with(ServerConfig {
        store: store.clone(),
        ..Default::default()
    })
    .await;
    let listen = format!("127.0.0.1:{}", server.port());
    let config = ServerConfig {
        store,
        listen,
        ..Default::default()
    };
    let c = server.client().await;
    let t = c.create(NewTask::new()).await.unwrap();
    let mut w = c.watch(&t.task_id, 0);
    assert_eq!(next_task(&mut w).await.version, 1);
    c.set_variable(&t.task_id, "step", json!(1)).await.unwrap();
    assert_eq!(next_task(&mut w).await.version, 2);

    let mut seen = vec![1, 2];
    for signal in ["KILL", "TERM"] {
        server.stop(signal).await;
        // Read the stream while the server is away (it must keep retrying, not fail).
        let next = tokio::spawn(async move {
            let item = tokio::time::timeout(Duration::from_secs(60), w.next()).await;
            (item, w)
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        server = Server::start_with(config.clone()).await;
        let writer = server.client().await;
        let v = writer
            .set_variable(&t.task_id, "step", json!(signal))
            .await
            .unwrap()
            .version;
        let (item, stream) = next.await.unwrap();
        w = stream;
        let got = item
            .expect("watch did not resume")
            .expect("stream ended")
            .expect("watch failed");
        assert_eq!(got.version, v, "resumed after {signal}");
        assert_eq!(got.variables["step"], json!(signal));
        seen.push(got.version);
    }
    let end = c
        .complete(&t.task_id, Completion::completed_empty())
        .await
        .unwrap();
    let last = next_task(&mut w).await;
    assert_eq!(last.version, end.version);
    seen.push(last.version);
    assert!(w.next().await.is_none());
    assert!(seen.windows(2).all(|p| p[0] < p[1]), "{seen:?}");
    drop(server);
}

#[tokio::test]
async fn watch_all_sees_changes_after_it_opens() {
    let server = Server::start_with(ServerConfig {
        auth: true,
        ..Default::default()
    })
    .await;
    let alice = server.alice().await;
    let bob = server.bob().await;
    let mut all = alice.watch_all(WatchAllOptions::default()).await.unwrap();
    let mut done_only = alice
        .watch_all(WatchAllOptions::new().statuses([TaskStatus::Completed]))
        .await
        .unwrap();
    let _other = bob.create(NewTask::new()).await.unwrap(); // another owner: never seen
    let t = alice.create(NewTask::new()).await.unwrap();
    alice.set_variable(&t.task_id, "x", json!(1)).await.unwrap();
    alice
        .complete(&t.task_id, Completion::completed(json!(null)))
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..3 {
        let e = next_task(&mut all).await;
        events.push((e.task_id.clone(), e.version, e.status));
    }
    assert_eq!(
        events,
        vec![
            (t.task_id.clone(), 1, TaskStatus::Working),
            (t.task_id.clone(), 2, TaskStatus::Working),
            (t.task_id.clone(), 3, TaskStatus::Completed)
        ]
    );
    let e = next_task(&mut done_only).await;
    assert_eq!(
        (e.version, e.status, e.result),
        (3, TaskStatus::Completed, Some(Value::Null))
    );
}

#[tokio::test]
async fn connect_errors_are_typed() {
    // Nothing listens on this port (bound then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Client::connect(format!("127.0.0.1:{port}"), ClientOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(err.origin(), ErrorOrigin::Transport);
    let err = Client::connect("ftp://x:1", ClientOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.origin()),
        (Code::InvalidArgument, ErrorOrigin::Client)
    );
    let err =
        Client::connect_lazy("127.0.0.1:1", ClientOptions::with_token("bad\ntoken")).unwrap_err();
    assert_eq!(err.origin(), ErrorOrigin::Client);
}

/// A connection the peer would not talk over (wrong protocol, untrusted certificate, missing
/// client certificate): the call fails in the transport with UNAVAILABLE (tonic itself says
/// UNKNOWN or CANCELLED for some of them).
fn assert_refused_by_transport(err: &taskstate_client::Error) {
    assert_eq!(
        (err.code(), err.origin()),
        (Code::Unavailable, ErrorOrigin::Transport),
        "{err:?}"
    );
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn tls_follows_the_default_rule_against_a_tls_server() {
    let pki = TestPki::new();
    let server = Server::start_with(ServerConfig {
        extra: pki.server_flags(),
        ..Default::default()
    })
    .await;
    let port = server.port();
    // A CA certificate asks for TLS, even to a loopback host.
    let with_ca = ClientOptions {
        tls: TlsOptions::default().with_ca_certificate(pki.read("ca.pem")),
        ..Default::default()
    };
    for endpoint in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let c = Client::connect(&endpoint, with_ca.clone()).await.unwrap();
        let t = c.create(NewTask::new()).await.unwrap();
        assert_eq!(c.get(&t.task_id).await.unwrap().version, 1, "{endpoint}");
    }

    // A loopback host without options is plaintext: it cannot talk to a TLS server.
    let plain =
        Client::connect_lazy(format!("localhost:{port}"), ClientOptions::default()).unwrap();
    let err = plain.list(ListOptions::default()).await.unwrap_err();
    assert_refused_by_transport(&err);
    // https:// is TLS with the system roots, which do not trust the test CA.
    let untrusted = Client::connect_lazy(
        format!("https://localhost:{port}"),
        ClientOptions::default(),
    )
    .unwrap();
    let err = untrusted.list(ListOptions::default()).await.unwrap_err();
    assert_refused_by_transport(&err);
    // An explicit plaintext choice beats the https:// scheme.
    let forced = Client::connect_lazy(
        format!("https://localhost:{port}"),
        ClientOptions {
            tls: TlsOptions::plaintext(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_refused_by_transport(&forced.list(ListOptions::default()).await.unwrap_err());
}

#[tokio::test]
async fn explicit_tls_to_a_plaintext_server_fails_and_plaintext_works() {
    let server = Server::start().await;
    let port = server.port();
    let tls = Client::connect_lazy(
        format!("127.0.0.1:{port}"),
        ClientOptions {
            tls: TlsOptions::tls(),
            ..Default::default()
        },
    );
    // With the `tls` feature the handshake fails; without it the client refuses up front.
    match tls {
        Ok(c) => assert_refused_by_transport(&c.list(ListOptions::default()).await.unwrap_err()),
        Err(e) => assert_eq!(e.origin(), ErrorOrigin::Client),
    }
    let plain = Client::connect(format!("http://localhost:{port}"), ClientOptions::default())
        .await
        .unwrap();
    plain.list(ListOptions::default()).await.unwrap();
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn mutual_tls_with_a_client_certificate() {
    let pki = TestPki::new();
    let mut flags = pki.server_flags();
    flags.extend(["--tls-client-ca".to_owned(), pki.arg("ca.pem")]);
    let server = Server::start_with(ServerConfig {
        extra: flags,
        ..Default::default()
    })
    .await;
    let endpoint = format!("localhost:{}", server.port());
    let ca_only = TlsOptions::default().with_ca_certificate(pki.read("ca.pem"));
    let mtls = ca_only
        .clone()
        .with_client_identity(pki.read("client.pem"), pki.read("client.key"));
    let c = Client::connect(
        &endpoint,
        ClientOptions {
            tls: mtls,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let t = c.create(NewTask::new()).await.unwrap();
    assert_eq!(c.get(&t.task_id).await.unwrap().task_id, t.task_id);

    // Without a client certificate the server refuses the connection.
    let anonymous = Client::connect_lazy(
        &endpoint,
        ClientOptions {
            tls: ca_only,
            ..Default::default()
        },
    )
    .unwrap();
    let err = anonymous.get(&t.task_id).await.unwrap_err();
    assert_refused_by_transport(&err);
}

#[tokio::test]
async fn numbers_a_double_cannot_carry_are_refused_before_any_call() {
    let server = Server::start().await;
    let c = server.client().await;
    let max = taskstate_client::MAX_SAFE_INTEGER;
    let t = c
        .create(NewTask::new().variable("max", max).variable("min", -max))
        .await
        .unwrap();
    assert_eq!(t.variables["max"].as_i64(), Some(max));
    assert_eq!(t.variables["min"].as_i64(), Some(-max));

    let err = c
        .create(NewTask::new().variable("count", i64::MAX))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.reason(), Some("VALUE_NOT_REPRESENTABLE"));
    assert_eq!(err.origin(), ErrorOrigin::Client);
    assert_eq!(err.field_violations()[0].field, "variables.count");
    let err = c
        .set_variable(&t.task_id, "n", json!(max + 2))
        .await
        .unwrap_err();
    assert_eq!(err.field_violations()[0].field, "variables.n");
    let err = c
        .complete(
            &t.task_id,
            Completion::completed(json!({"items": [1, 2, u64::MAX]})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.field_violations()[0].field, "result.items[2]");
    let err = c
        .update(&t.task_id, |task| {
            task.variables.insert("big".into(), json!(max + 1));
        })
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("VALUE_NOT_REPRESENTABLE"));

    // Nothing reached the server: one task, still at version 1.
    let page = c.list(ListOptions::default()).await.unwrap();
    assert_eq!(page.tasks.len(), 1);
    assert_eq!(page.tasks[0].version, 1);
}

#[tokio::test]
async fn status_prints_its_lowercase_name() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(NewTask::new()).await.unwrap();
    let t = c
        .update_status(&t.task_id, TaskStatus::InputRequired, "", None)
        .await
        .unwrap();
    assert_eq!(format!("{}", t.status), "input_required");
    let t = c.cancel(&t.task_id, "").await.unwrap();
    assert_eq!(t.status.to_string(), "cancelled");
}

fn assert_basic(t: &Task) {
    assert!(t.variables.is_empty(), "{t:?}");
    assert_eq!((&t.result, &t.error), (&None, &None), "{t:?}");
    assert!(t.version >= 1 && t.status != TaskStatus::Unspecified && t.create_time.is_some());
}

#[tokio::test]
async fn basic_view_leaves_out_variables_result_and_error() {
    let server = Server::start().await;
    let c = server.client().await;
    let done = c
        .create(NewTask::new().variable("big", "x".repeat(1000)))
        .await
        .unwrap();
    c.complete(&done.task_id, Completion::completed(json!({"rows": 42})))
        .await
        .unwrap();
    let failed = c.create(NewTask::new().variable("k", 1)).await.unwrap();
    c.fail(
        &failed.task_id,
        TaskError::new(-1, "boom").with_data(json!([1])),
    )
    .await
    .unwrap();
    let mut watch = c
        .watch_all(WatchAllOptions::new().view(TaskView::Basic))
        .await
        .unwrap();

    let basic = c
        .list(ListOptions::new().view(TaskView::Basic))
        .await
        .unwrap();
    assert_eq!(basic.tasks.len(), 2);
    basic.tasks.iter().for_each(assert_basic);
    let all_basic: Vec<Task> = c
        .list_all(ListOptions::new().view(TaskView::Basic).page_size(1))
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(all_basic, basic.tasks);

    // The default is the full view.
    let full = c.list(ListOptions::default()).await.unwrap();
    assert_eq!(ListOptions::default().view, TaskView::Full);
    assert_eq!(full.tasks[0].error.as_ref().unwrap().message, "boom");
    assert_eq!(full.tasks[1].result, Some(json!({"rows": 42})));
    assert_eq!(full.tasks[1].variables["big"], json!("x".repeat(1000)));

    let t = c.create(NewTask::new().variable("v", 1)).await.unwrap();
    let seen = next_task(&mut watch).await;
    assert_eq!(
        (seen.task_id.as_str(), seen.version),
        (t.task_id.as_str(), 1)
    );
    assert_basic(&seen);
}

/// Six tasks of ~900 KB each do not fit one 4 MiB response: the server cuts the page short and
/// list_all keeps following next_page_token.
#[tokio::test]
async fn list_all_follows_pages_cut_short_by_size() {
    let server = Server::start().await;
    let c = server.client().await;
    let chunk = "y".repeat(60_000);
    let mut ids = HashSet::new();
    for _ in 0..6 {
        let mut big = NewTask::new();
        for k in 0..15 {
            big = big.variable(format!("part{k}"), chunk.as_str());
        }
        ids.insert(c.create(big).await.unwrap().task_id);
    }
    let page = c.list(ListOptions::new().page_size(50)).await.unwrap();
    assert!(
        page.tasks.len() < 6,
        "{} tasks in one page",
        page.tasks.len()
    );
    assert!(!page.tasks.is_empty());
    assert!(!page.next_page_token.is_empty());
    let all: Vec<Task> = c
        .list_all(ListOptions::new().page_size(50))
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(all.len(), 6);
    assert_eq!(
        all.iter()
            .map(|t| t.task_id.clone())
            .collect::<HashSet<_>>(),
        ids
    );
    assert!(all.iter().all(|t| t.variables.len() == 15));
}
