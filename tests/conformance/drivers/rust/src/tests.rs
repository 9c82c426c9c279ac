//! Server-less tests of the driver's own logic; the conformance run (tests/conformance) tests
//! it against live servers.

use super::*;
use taskstate_client::TaskLease;

async fn ask(driver: &Driver, request: Value) -> Value {
    let id = request["id"].clone();
    answer(id, driver.handle(&request).await)
}

fn target() -> Value {
    // Nothing listens on port 1: a call gets UNAVAILABLE from the transport.
    json!({"address": "127.0.0.1:1", "token": null})
}

#[tokio::test]
async fn bad_requests_are_failures_not_errors() {
    let d = Driver::default();
    for request in [
        json!({"id": 1, "op": "frobnicate", "target": target(), "args": {}}),
        json!({"id": 1, "op": "get", "target": target(), "args": {"task_id": "x", "extra": 1}}),
        json!({"id": 1, "op": "get", "target": target(), "args": {"task_id": 7}}),
        json!({"id": 1, "op": "put_if_version", "target": target(), "args": {"task": {"version": 2}}}),
        json!({"id": 1, "op": "complete", "target": target(), "args": {"error": {"code": 1, "why": 2}}}),
        json!({"id": 1, "op": "watch_all_next", "args": {"stream": "never opened"}}),
        json!({"id": 1, "op": "create", "target": target(), "args": {"variables": {"n": 9007199254740993_u64}}}),
        json!({"id": 1, "op": "claim", "target": target(), "args": {"task_id": "t"}}),
        json!({"id": 1, "op": "renew_lease", "target": target(), "args": {"task_id": "t"}}),
        json!({"id": 1, "op": "renew_lease", "target": target(), "args": {"fencing_token": 1}}),
        json!({"id": 1, "op": "worker_run", "target": target(), "args": {}}),
        json!({"id": 1, "op": "create", "target": target(), "args": {"lease_policy": "keep"}}),
        json!({"id": 1, "op": "set_variables", "target": target(), "args": {"fencing_token": -1}}),
        json!({"id": 1, "op": "watch_all_open", "target": target(), "args": {"stream": "s", "all_events": 1}}),
    ] {
        let answer = ask(&d, request.clone()).await;
        assert!(answer["failure"].is_string(), "{request} -> {answer}");
        assert_eq!(answer["id"], 1);
    }
    let closed = ask(
        &d,
        json!({"id": 2, "op": "watch_all_close", "args": {"stream": "never opened"}}),
    )
    .await;
    assert_eq!(closed, json!({"id": 2, "ok": {}}));
}

#[tokio::test]
async fn a_transport_status_is_an_error_answer() {
    let d = Driver::default();
    let answer = ask(
        &d,
        json!({"id": 3, "op": "get", "target": target(), "args": {"task_id": "t"}}),
    )
    .await;
    assert_eq!(answer["error"]["code"], "UNAVAILABLE", "{answer}");
    assert_eq!(answer["error"]["metadata"], json!({}));
    assert_eq!(answer["error"]["reason"], Value::Null);
}

#[test]
fn task_view_leaves_unset_fields_out() {
    let bare = view(&Task {
        task_id: "t".into(),
        version: 1,
        ..Task::default()
    });
    assert_eq!(
        bare,
        json!({"task_id": "t", "status": "unspecified", "status_message": "", "request_method": "",
               "version": 1, "variables": {}, "max_attempts": 0, "attempt": 0, "subject": "",
               "input_requests": {}, "input_responses": {}, "cancel_requested": false})
    );
    let full = view(&Task {
        result: Some(Value::Null),
        error: Some(TaskError::new(3, "bad")),
        ttl: Some(Duration::from_millis(1500)),
        create_time: Some(UNIX_EPOCH + Duration::from_millis(42)),
        ..Task::default()
    });
    assert_eq!(full["result"], Value::Null);
    assert!(
        full.as_object().unwrap().contains_key("result"),
        "a JSON-null result is present"
    );
    assert_eq!(full["error"], json!({"code": 3, "message": "bad"}));
    assert_eq!(
        (full["ttl_ms"].clone(), full["create_time_ms"].clone()),
        (json!(1500), json!(42))
    );
    assert!(full.get("expire_time_ms").is_none() && full.get("poll_interval_ms").is_none());
}

#[test]
fn task_view_shows_the_lease() {
    let leased = view(&Task {
        lease: Some(TaskLease {
            worker_id: "w".into(),
            fencing_token: 3,
            expire_time: Some(UNIX_EPOCH + Duration::from_millis(5000)),
            duration: Some(Duration::from_millis(1500)),
        }),
        lease_policy: LeasePolicy::Release,
        max_attempts: 2,
        attempt: 1,
        ..Task::default()
    });
    assert_eq!(
        leased["lease"],
        json!({"worker_id": "w", "fencing_token": 3, "expire_time_ms": 5000, "duration_ms": 1500})
    );
    assert_eq!(
        (
            &leased["lease_policy"],
            &leased["max_attempts"],
            &leased["attempt"]
        ),
        (&json!("release"), &json!(2), &json!(1))
    );
}

#[test]
fn event_answers() {
    let write = event_view(&TaskEvent {
        kind: EventKind::Write,
        task_id: "t".into(),
        version: 2,
        resume_cursor: "c".into(),
        task: Some(Task {
            task_id: "t".into(),
            version: 2,
            ..Task::default()
        }),
    });
    assert_eq!(
        (&write["kind"], &write["version"], &write["task"]["version"]),
        (&json!("write"), &json!(2), &json!(2))
    );
    let progress = event_view(&TaskEvent {
        kind: EventKind::Progress,
        task_id: String::new(),
        version: 0,
        resume_cursor: "c2".into(),
        task: None,
    });
    assert_eq!(
        progress,
        json!({"kind": "progress", "task_id": "", "version": 0, "resume_cursor": "c2"})
    );
}

#[test]
fn update_fns() {
    let run = |f: Value, vars: Value| {
        let mut vars = vars.as_object().unwrap().clone();
        apply(&Args::of(Some(&f), "fn")?, &mut vars).map(|()| Value::Object(vars))
    };
    let ok = |f: Value, vars: Value| run(f, vars).unwrap_or_else(|_| panic!("fn refused"));
    assert_eq!(ok(json!({"increment": "n"}), json!({})), json!({"n": 1}));
    assert_eq!(
        ok(json!({"increment": "n", "by": 5}), json!({"n": 2})),
        json!({"n": 7})
    );
    assert_eq!(
        ok(json!({"increment": "n", "by": 0.5}), json!({"n": 2})),
        json!({"n": 2.5})
    );
    assert_eq!(
        ok(
            json!({"merge": {"a": 1, "b": null}}),
            json!({"b": 2, "c": 3})
        ),
        json!({"a": 1, "c": 3})
    );
    for bad in [
        json!({"increment": "s"}),
        json!({"increment": "n", "by": "1"}),
        json!({"merge": {}, "x": 1}),
    ] {
        assert!(run(bad, json!({"s": "text"})).is_err());
    }
}
