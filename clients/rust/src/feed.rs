//! The resuming owner feed behind [`Client::events`](crate::Client::events).

use std::collections::VecDeque;

use futures_util::stream;
use tonic::codec::Streaming;
use tonic::{Code, Request};

use crate::client::{watch_tasks_request, Client};
use crate::error::{Error, ErrorKind};
use crate::proto::{TaskView, WatchTasksResponse};
use crate::retry::Backoff;
use crate::types::{EventKind, EventStream, ListOptions, TaskEvent, WatchAllOptions};

pub(crate) fn events(client: Client, options: WatchAllOptions) -> EventStream {
    let backoff = Backoff::new(client.watch_retry);
    let state = Feed {
        client,
        options,
        streaming: None,
        pending: VecDeque::new(),
        done: false,
        backoff,
    };
    Box::pin(stream::unfold(state, |mut state| async move {
        let item = state.next_item().await?;
        Some((item, state))
    }))
}

/// The feed's position is `options.resume_cursor`, moved by every message (PROGRESS too), so
/// a reopened call starts right after the last event handed out and repeats none.
struct Feed {
    client: Client,
    options: WatchAllOptions,
    streaming: Option<Streaming<WatchTasksResponse>>,
    /// Events of a re-listing, handed out before the feed goes on.
    pending: VecDeque<TaskEvent>,
    done: bool,
    backoff: Backoff,
}

impl Feed {
    async fn next_item(&mut self) -> Option<Result<TaskEvent, Error>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let failure = match self.step().await {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => continue,
                Err(e) => e,
            };
            self.streaming = None;
            if failure.kind() == ErrorKind::FeedCompacted {
                match self.relist().await {
                    Ok(()) => continue,
                    Err(e) if e.is_retryable() => {}
                    Err(e) => return Some(self.finish(e)),
                }
            } else if !failure.is_retryable() {
                return Some(self.finish(failure));
            }
            match self.backoff.next_delay() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Some(self.finish(failure)),
            }
        }
    }

    /// One move: take a starting position, open the call, or read one message (`None`: nothing
    /// to hand out yet).
    async fn step(&mut self) -> Result<Option<TaskEvent>, Error> {
        if self.options.resume_cursor.is_empty() {
            // "Now" as a position, so even the first reconnection misses nothing.
            let first = self
                .client
                .list(self.listing().page_size(1).view(TaskView::Basic))
                .await?;
            self.options.resume_cursor = first.resume_cursor;
            if self.options.resume_cursor.is_empty() {
                return Err(Error::client(
                    Code::Unimplemented,
                    "the server gave no resume cursor: its store keeps no event log",
                ));
            }
        }
        let Some(streaming) = self.streaming.as_mut() else {
            let req = watch_tasks_request(&self.options, true);
            let resp = self.client.raw().watch_tasks(Request::new(req)).await?;
            self.streaming = Some(resp.into_inner());
            return Ok(None);
        };
        let Some(msg) = streaming.message().await? else {
            return Err(Error::client(Code::Unavailable, "the feed ended early"));
        };
        if !msg.resume_cursor.is_empty() {
            self.options.resume_cursor.clone_from(&msg.resume_cursor);
        }
        self.backoff.reset(); // progress: the next outage gets a fresh budget
        Ok(TaskEvent::from_proto(msg).filter(|e| e.kind != EventKind::Progress))
    }

    /// After FEED_COMPACTED: every task listed again, a Reset and a Write per task queued, and
    /// the feed moved to the first page's cursor (taken before any page was read).
    async fn relist(&mut self) -> Result<(), Error> {
        let first = self.client.list(self.listing()).await?;
        let cursor = first.resume_cursor;
        let mut tasks = first.tasks;
        let mut token = first.next_page_token;
        while !token.is_empty() {
            let page = self.client.list(self.listing().page_token(token)).await?;
            tasks.extend(page.tasks);
            token = page.next_page_token;
        }
        self.pending.push_back(TaskEvent {
            kind: EventKind::Reset,
            task_id: String::new(),
            version: 0,
            resume_cursor: cursor.clone(),
            task: None,
        });
        self.pending.extend(tasks.into_iter().map(|t| TaskEvent {
            kind: EventKind::Write,
            task_id: t.task_id.clone(),
            version: t.version,
            resume_cursor: cursor.clone(),
            task: Some(t),
        }));
        self.options.resume_cursor = cursor;
        Ok(())
    }

    fn listing(&self) -> ListOptions {
        ListOptions::new()
            .statuses(self.options.statuses.iter().copied())
            .view(self.options.view)
    }

    fn finish(&mut self, e: Error) -> Result<TaskEvent, Error> {
        self.done = true;
        self.streaming = None;
        self.pending.clear();
        Err(e)
    }
}
