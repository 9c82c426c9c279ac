//! The resuming WatchTask stream.

use futures_util::stream;
use tonic::codec::Streaming;
use tonic::{Code, Request};

use crate::client::{task_of, Client};
use crate::error::Error;
use crate::proto::{WatchTaskRequest, WatchTaskResponse};
use crate::retry::Backoff;
use crate::types::{Task, TaskStream};

pub(crate) fn watch(client: Client, task_id: String, after_version: u64) -> TaskStream {
    let backoff = Backoff::new(client.watch_retry);
    let state = WatchState {
        client,
        task_id,
        last: after_version,
        streaming: None,
        done: false,
        backoff,
    };
    Box::pin(stream::unfold(state, |mut state| async move {
        let item = state.next_item().await?;
        Some((item, state))
    }))
}

/// Remembers the last version handed to the caller: reconnecting with `after_version = last`
/// means the server resends nothing already yielded, and the version check guards against a
/// replica that replays anyway, so the caller sees strictly increasing versions.
struct WatchState {
    client: Client,
    task_id: String,
    last: u64,
    streaming: Option<Streaming<WatchTaskResponse>>,
    done: bool,
    backoff: Backoff,
}

impl WatchState {
    async fn next_item(&mut self) -> Option<Result<Task, Error>> {
        loop {
            if self.done {
                return None;
            }
            let failure: Error;
            match self.streaming.as_mut() {
                None => {
                    let req = WatchTaskRequest {
                        task_id: self.task_id.clone(),
                        after_version: self.last,
                    };
                    match self.client.raw().watch_task(Request::new(req)).await {
                        Ok(resp) => {
                            self.streaming = Some(resp.into_inner());
                            continue;
                        }
                        Err(status) => failure = status.into(),
                    }
                }
                Some(streaming) => match streaming.message().await {
                    Ok(Some(msg)) => {
                        let task = match task_of(msg.task) {
                            Ok(task) => task,
                            Err(e) => return Some(self.finish(Err(e))),
                        };
                        if task.version <= self.last {
                            continue;
                        }
                        self.last = task.version;
                        self.backoff.reset(); // progress: the next outage gets a fresh budget
                        if task.is_terminal() {
                            return Some(self.finish(Ok(task)));
                        }
                        return Some(Ok(task));
                    }
                    Ok(None) => {
                        // A clean end without a terminal version: either the task was already
                        // terminal at or before `last`, or the server closed politely. A read
                        // tells which.
                        self.streaming = None;
                        match self.client.get(&self.task_id).await {
                            Ok(task) if task.is_terminal() => {
                                if task.version > self.last {
                                    self.last = task.version;
                                    return Some(self.finish(Ok(task)));
                                }
                                self.done = true;
                                return None;
                            }
                            Ok(_) => {
                                failure = Error::client(
                                    Code::Unavailable,
                                    "the watch stream ended before the terminal version",
                                )
                            }
                            Err(e) => failure = e,
                        }
                    }
                    Err(status) => {
                        self.streaming = None;
                        failure = status.into();
                    }
                },
            }
            if !failure.is_retryable() {
                return Some(self.finish(Err(failure)));
            }
            match self.backoff.next_delay() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Some(self.finish(Err(failure))),
            }
        }
    }

    fn finish(&mut self, item: Result<Task, Error>) -> Result<Task, Error> {
        self.done = true;
        self.streaming = None;
        item
    }
}
