//! Issue 11 against the real Python server: subjects, input requests, cancel requests.

mod common;

use common::Server;
use serde_json::{json, Value};
use taskstate_client::{
    ClientOptions, ErrorKind, ListOptions, NewTask, TaskStatus, TaskView, Variables,
};

fn vars(v: Value) -> Variables {
    v.as_object().expect("an object").clone()
}

#[tokio::test]
async fn subject_scopes_every_call() {
    let server = Server::start().await;
    let c = server.client().await;
    let alice = c.with_subject("alice").unwrap();
    let bob = server
        .client_with(ClientOptions {
            subject: Some("bob".into()),
            ..ClientOptions::default()
        })
        .await;
    assert_eq!(
        (alice.subject(), bob.subject(), c.subject()),
        (Some("alice"), Some("bob"), None)
    );

    let mine = alice.create(NewTask::new()).await.unwrap();
    assert_eq!(mine.subject, "alice");
    let err = bob.get(&mine.task_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskNotFound);
    assert_eq!(c.get(&mine.task_id).await.unwrap().subject, "alice");
    assert!(bob.list(ListOptions::new()).await.unwrap().tasks.is_empty());
    assert!(c.with_subject("bad\nsubject").is_err());
}

#[tokio::test]
async fn input_requests_are_answered_once() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(NewTask::new()).await.unwrap();
    let requests = vars(json!({"name": {"message": "Name?"}, "age": "Age?"}));
    let asked = c
        .update_status_with_input(
            &t.task_id,
            TaskStatus::InputRequired,
            "need input",
            requests.clone(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(asked.outstanding_input(), requests);

    let first = c
        .provide_input(&t.task_id, vars(json!({"age": 42, "never_asked": true})))
        .await
        .unwrap();
    assert_eq!(first.accepted_keys, ["age"]);
    assert_eq!(
        (first.task.status, first.task.version),
        (TaskStatus::InputRequired, asked.version + 1)
    );
    let last = c
        .provide_input(&t.task_id, vars(json!({"age": 43, "name": "Ada"})))
        .await
        .unwrap();
    assert_eq!(last.accepted_keys, ["name"]);
    assert_eq!(last.task.status, TaskStatus::Working);
    assert_eq!(
        last.task.input_responses,
        vars(json!({"age": 42, "name": "Ada"}))
    );
    assert!(last.task.outstanding_input().is_empty());
    let none = c
        .provide_input(&t.task_id, vars(json!({"name": "Bob"})))
        .await
        .unwrap();
    assert!(none.accepted_keys.is_empty());
    assert_eq!(none.task.version, last.task.version);

    let basic = c
        .list(ListOptions::new().view(TaskView::Basic))
        .await
        .unwrap();
    assert!(basic.tasks[0].input_requests.is_empty());
}

#[tokio::test]
async fn request_cancel_sets_the_flag_once() {
    let server = Server::start().await;
    let c = server.client().await;
    let t = c.create(NewTask::new()).await.unwrap();
    let asked = c.request_cancel(&t.task_id).await.unwrap();
    assert!(asked.cancel_requested);
    assert_eq!((asked.status, asked.version), (TaskStatus::Working, 2));
    assert_eq!(c.request_cancel(&t.task_id).await.unwrap().version, 2);
}
