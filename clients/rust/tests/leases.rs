//! Leases, the worker helper and the resuming feed, against the real Python server (see
//! tests/common/mod.rs).

mod common;

use std::future::Future;
use std::time::Duration;

use common::proxy::Proxy;
use common::{Server, ServerConfig};
use futures_util::StreamExt;
use serde_json::json;
use taskstate_client::{
    ClaimOptions, Client, ClientOptions, Completion, ErrorKind, ErrorOrigin, EventKind,
    EventStream, LeasePolicy, ListOptions, NewTask, RenewOptions, TaskEvent, TaskStatus,
    WatchAllOptions, Worker, WorkerOptions,
};

/// Long enough for any step of a loaded machine; a step that takes this long failed.
const STEP: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

async fn next_event(events: &mut EventStream) -> TaskEvent {
    within("the next event", events.next())
        .await
        .expect("the feed ended")
        .expect("the feed failed")
}

/// A server, a proxy in front of it, and a client connected through the proxy.
async fn behind_proxy() -> (Server, Proxy, Client) {
    let server = Server::start().await;
    let proxy = Proxy::start(&server.addr).await;
    let client = Client::connect(&proxy.addr, ClientOptions::default())
        .await
        .unwrap();
    (server, proxy, client)
}

/// A task workers may claim (claim_next only offers tasks with a lease policy).
fn claimable(method: &str) -> NewTask {
    NewTask::new()
        .request_method(method)
        .lease_policy(LeasePolicy::Release)
        .max_attempts(2)
}

#[tokio::test]
async fn plain_claim_renew_and_fenced_writes() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(claimable("tools/call")).await.unwrap();
    assert_eq!(
        (t.lease_policy, t.max_attempts, t.attempt, t.lease.is_none()),
        (LeasePolicy::Release, 2, 1, true)
    );

    let claimed = c
        .claim(&t.task_id, "w1", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let lease = claimed.lease.clone().expect("a lease");
    assert_eq!(lease.worker_id, "w1");
    assert_eq!(lease.duration, Some(Duration::from_secs(30)));
    assert!(lease.fencing_token >= 1 && lease.expire_time.is_some());
    assert_eq!(claimed.attempt, 1);
    let token = lease.fencing_token;

    // The holder's retry gets the same lease; another worker is refused.
    let again = c.claim(&t.task_id, "w1", None).await.unwrap();
    assert_eq!(again.lease.unwrap().fencing_token, token);
    let held = c.claim(&t.task_id, "w2", None).await.unwrap_err();
    assert!(
        matches!(
            held.kind(),
            ErrorKind::LeaseHeld {
                lease_expire_time: Some(_)
            }
        ),
        "{held:?}"
    );

    let renewed = c
        .renew_lease(
            &t.task_id,
            token,
            RenewOptions {
                lease: Some(Duration::from_secs(60)),
                status_message: Some("alive".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(renewed.status_message, "alive");
    assert_eq!(
        renewed.lease.unwrap().duration,
        Some(Duration::from_secs(60))
    );

    let stale = c
        .renew_lease(&t.task_id, token + 1, RenewOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        stale.kind(),
        ErrorKind::LeaseLost {
            fencing_token: Some(token + 1),
            current_fencing_token: Some(token)
        }
    );

    let fenced = c.with_fencing_token(token);
    assert_eq!(fenced.fencing_token(), Some(token));
    let v = fenced
        .set_variable(&t.task_id, "x", json!(1))
        .await
        .unwrap();
    assert_eq!(v.variables["x"], json!(1));
    let refused = c
        .with_fencing_token(token + 1)
        .set_variable(&t.task_id, "x", json!(2))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.kind(), ErrorKind::LeaseLost { .. }),
        "{refused:?}"
    );
    assert_eq!(refused.reason(), Some("LEASE_LOST"));

    let done = fenced
        .complete(&t.task_id, Completion::completed(json!("ok")))
        .await
        .unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert!(done.lease.is_none(), "completing ends the lease");
}

#[tokio::test]
async fn claim_next_picks_by_method_and_waits() {
    let server = Server::start().await;
    let c = server.client().await;
    let nothing = c.claim_next("w", ClaimOptions::new()).await.unwrap();
    assert!(nothing.is_none());
    // Without a lease policy a task is never offered to claim_next.
    c.create(NewTask::new().request_method("m")).await.unwrap();
    let other = c.create(claimable("other")).await.unwrap();
    let none = c
        .claim_next("w", ClaimOptions::new().request_method("m"))
        .await
        .unwrap();
    assert!(none.is_none());

    let waiting = {
        let c = c.clone();
        tokio::spawn(async move {
            let opts = ClaimOptions::new()
                .request_method("m")
                .wait(Duration::from_secs(15))
                .lease(Duration::from_secs(30));
            c.claim_next("w", opts).await
        })
    };
    let t = c.create(claimable("m")).await.unwrap();
    let got = within("the waiting claim", waiting)
        .await
        .unwrap()
        .unwrap()
        .expect("the waiting claim took the task created during the wait");
    assert_eq!(got.task_id, t.task_id);
    assert_eq!(got.lease.unwrap().worker_id, "w");

    let any = c.claim_next("w", ClaimOptions::new()).await.unwrap();
    assert_eq!(any.map(|t| t.task_id), Some(other.task_id));
}

#[tokio::test]
async fn worker_heartbeat_keeps_the_lease_and_writes_carry_the_token() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(claimable("job")).await.unwrap();
    let worker = Worker::new(
        c.clone(),
        WorkerOptions::default()
            .worker_id("wk")
            .lease(Duration::from_secs(3)),
    );
    assert_eq!(worker.worker_id(), "wk");
    let lease = worker
        .claim_next(ClaimOptions::new().request_method("job"))
        .await
        .unwrap()
        .expect("a claim");
    assert_eq!(lease.task_id(), t.task_id);
    assert_eq!(lease.duration(), Duration::from_secs(3));
    let first_end = lease.task().lease.unwrap().expire_time.unwrap();

    // The heartbeat moves the lease's end forward, past what the claim granted.
    within("a renewal", async {
        loop {
            let now = c.get(&t.task_id).await.unwrap();
            let end = now.lease.expect("still leased").expire_time.unwrap();
            if end > first_end + Duration::from_secs(3) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await; // polling the server
        }
    })
    .await;
    assert!(!lease.is_lost());

    let v = lease.set_variable("step", json!(1)).await.unwrap();
    assert_eq!(v.variables["step"], json!(1));
    assert_eq!(lease.task().version, v.version);
    // Another worker cannot take it meanwhile.
    let other = Worker::new(c.clone(), WorkerOptions::default());
    let held = other.claim(&t.task_id).await.unwrap_err();
    assert!(
        matches!(held.kind(), ErrorKind::LeaseHeld { .. }),
        "{held:?}"
    );

    let done = lease
        .complete(Completion::completed(json!({"ok": true})))
        .await
        .unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert!(!lease.is_lost(), "completing is no loss");
    lease.close();
}

#[tokio::test]
async fn lost_fires_when_the_server_says_lease_lost() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(claimable("job")).await.unwrap();
    let worker = Worker::new(
        c.clone(),
        WorkerOptions::default().lease(Duration::from_millis(900)),
    );
    let lease = worker.claim(&t.task_id).await.unwrap();
    // The owner cancels: the lease ends with the task, and the next renewal is refused.
    c.cancel(&t.task_id, "no longer needed").await.unwrap();
    let why = within("lost()", lease.lost()).await;
    assert!(matches!(why.kind(), ErrorKind::LeaseLost { .. }), "{why:?}");
    assert_eq!(why.origin(), ErrorOrigin::Server);
    assert!(lease.is_lost());
    let refused = lease.set_variable("late", json!(true)).await.unwrap_err();
    assert_eq!(refused.code(), taskstate_client::Code::FailedPrecondition);
}

#[tokio::test]
async fn lost_fires_when_a_fenced_write_is_refused() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(claimable("job")).await.unwrap();
    let worker = Worker::new(c.clone(), WorkerOptions::default());
    let lease = worker.claim(&t.task_id).await.unwrap();
    c.cancel(&t.task_id, "").await.unwrap();
    let refused = lease.set_variable("x", json!(1)).await.unwrap_err();
    assert!(
        matches!(refused.kind(), ErrorKind::LeaseLost { .. }),
        "{refused:?}"
    );
    assert!(lease.is_lost());
    let why = within("lost()", lease.lost()).await;
    assert!(matches!(why.kind(), ErrorKind::LeaseLost { .. }));
}

#[tokio::test]
async fn lost_fires_when_renewals_cannot_reach_the_server() {
    let (server, proxy, via_proxy) = behind_proxy().await;
    let c = server.client().await;
    let t = c.create(claimable("job")).await.unwrap();
    let worker = Worker::new(
        via_proxy,
        WorkerOptions::default().lease(Duration::from_millis(1200)),
    );
    let lease = worker.claim(&t.task_id).await.unwrap();
    proxy.refuse(true);
    let why = within("lost()", lease.lost()).await;
    assert!(matches!(why.kind(), ErrorKind::LeaseLost { .. }), "{why:?}");
    assert_eq!(why.origin(), ErrorOrigin::Client);
    assert_eq!(
        why.metadata()["fencing_token"],
        lease.fencing_token().to_string()
    );
}

#[tokio::test]
async fn events_resume_after_a_dropped_connection() {
    let (server, proxy, via_proxy) = behind_proxy().await;
    let c = server.client().await;
    let start = c.list(ListOptions::new().page_size(1)).await.unwrap();
    assert!(!start.resume_cursor.is_empty());
    let mut events = via_proxy.events(WatchAllOptions::new().resume_cursor(start.resume_cursor));

    let t1 = c.create(NewTask::new()).await.unwrap();
    let e = next_event(&mut events).await;
    assert_eq!(
        (e.kind, e.task_id.as_str(), e.version),
        (EventKind::Write, t1.task_id.as_str(), 1)
    );
    assert_eq!(e.task.unwrap().task_id, t1.task_id);
    assert!(!e.resume_cursor.is_empty());

    proxy.cut();
    let accepted = proxy.accepted();
    // The feed is not read until these are done, so it reopens after all of them: the write
    // to t1 is not replayed (a replayed write carries the task as it is now, and t1 is gone).
    c.set_variable(&t1.task_id, "a", json!(1)).await.unwrap();
    let t2 = c.create(NewTask::new()).await.unwrap();
    c.delete(&t1.task_id).await.unwrap();
    let t3 = c.create(NewTask::new()).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let e = next_event(&mut events).await;
        seen.push((e.kind, e.task_id, e.version));
    }
    assert_eq!(
        seen,
        vec![
            (EventKind::Write, t2.task_id.clone(), 1),
            (EventKind::Deleted, t1.task_id.clone(), 2),
            (EventKind::Write, t3.task_id.clone(), 1),
        ]
    );
    assert!(proxy.accepted() > accepted, "the feed reconnected");
}

#[tokio::test]
async fn events_relist_when_the_cursor_is_compacted() {
    let server = Server::start_with(ServerConfig {
        extra: vec!["--feed-retention".into(), "1s".into()],
        ..Default::default()
    })
    .await;
    let c = server.client().await;
    let old = c.list(ListOptions::new()).await.unwrap().resume_cursor;
    let t1 = c.create(NewTask::new()).await.unwrap();
    let t2 = c.create(NewTask::new()).await.unwrap();
    // Wait (polling the server) until the log has dropped the writes after `old`.
    within("compaction", async {
        loop {
            let raw = c
                .watch_all_events(WatchAllOptions::new().resume_cursor(old.clone()))
                .await;
            let first = match raw {
                Err(e) => Some(Err(e)),
                Ok(mut s) => tokio::time::timeout(Duration::from_millis(500), s.next())
                    .await
                    .ok()
                    .flatten(),
            };
            if let Some(Err(e)) = first {
                assert_eq!(e.kind(), ErrorKind::FeedCompacted, "{e:?}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await; // polling the server
        }
    })
    .await;

    let mut events = c.events(WatchAllOptions::new().resume_cursor(old));
    let reset = next_event(&mut events).await;
    assert_eq!((reset.kind, reset.task_id.as_str()), (EventKind::Reset, ""));
    assert!(!reset.resume_cursor.is_empty());
    let mut listed = Vec::new();
    for _ in 0..2 {
        let e = next_event(&mut events).await;
        assert_eq!(e.kind, EventKind::Write);
        assert_eq!(e.resume_cursor, reset.resume_cursor);
        listed.push((e.task_id, e.version));
    }
    listed.sort();
    let mut expected = vec![(t1.task_id.clone(), 1), (t2.task_id.clone(), 1)];
    expected.sort();
    assert_eq!(listed, expected);

    // Then the feed goes on from the listing's cursor.
    let t3 = c.create(NewTask::new()).await.unwrap();
    let e = next_event(&mut events).await;
    assert_eq!((e.kind, e.task_id), (EventKind::Write, t3.task_id));
}
