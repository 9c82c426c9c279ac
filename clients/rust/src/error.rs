//! Typed errors: gRPC status code + `google.rpc.ErrorInfo` reason/metadata + `BadRequest`.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;

use tonic::Code;
use tonic_types::StatusExt;

use crate::proto::ErrorReason;

/// The `google.rpc.ErrorInfo` domain of taskstate's errors.
pub const ERROR_DOMAIN: &str = "taskstate.dev";

/// Never the reason of a call's error: the `reason` in the error data of a task that failed
/// because its lease expired (the name of `ErrorReason::LeaseExpired`).
pub const LEASE_EXPIRED: &str = "LEASE_EXPIRED";

/// Where an [`Error`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorOrigin {
    /// A status the server answered with.
    Server,
    /// The connection: connecting failed, it dropped, a client-side deadline expired.
    Transport,
    /// The client itself, before any call (bad endpoint, bad token characters, ...).
    Client,
}

/// What went wrong, for `match`ing: the ErrorInfo reason when there is one, else the code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `NOT_FOUND` / `TASK_NOT_FOUND`: unknown, deleted, expired, or another owner's task.
    TaskNotFound,
    /// `ABORTED` / `VERSION_MISMATCH`: the stored version differs from the expected one.
    VersionMismatch {
        /// The version the write expected (ErrorInfo metadata `expected_version`).
        expected: Option<u64>,
        /// The stored version (ErrorInfo metadata `actual_version`).
        actual: Option<u64>,
    },
    /// `FAILED_PRECONDITION` / `INVALID_TRANSITION`.
    InvalidTransition,
    /// `FAILED_PRECONDITION` / `TASK_TERMINAL`: the task is completed, failed or cancelled.
    TaskTerminal,
    /// `INVALID_ARGUMENT` (see [`Error::field_violations`]).
    InvalidArgument,
    /// `RESOURCE_EXHAUSTED` / `TASK_QUOTA_EXCEEDED`.
    TaskQuotaExceeded,
    /// `RESOURCE_EXHAUSTED` / `VARIABLES_TOO_LARGE`.
    VariablesTooLarge,
    /// `UNAVAILABLE` / `BACKEND_UNAVAILABLE`: the server cannot reach its store.
    BackendUnavailable,
    /// `FAILED_PRECONDITION` / `LEASE_LOST`: the fencing token named is no longer the task's
    /// live lease; the worker should stop working on the task.
    LeaseLost {
        /// The token the refused call named (ErrorInfo metadata `fencing_token`).
        fencing_token: Option<u64>,
        /// The token of the task's live lease, 0 when it has none (`current_fencing_token`).
        current_fencing_token: Option<u64>,
    },
    /// `FAILED_PRECONDITION` / `LEASE_HELD`: another worker holds a live lease on the task.
    LeaseHeld {
        /// When that lease ends unless renewed, RFC 3339 (metadata `lease_expire_time`).
        lease_expire_time: Option<String>,
    },
    /// `OUT_OF_RANGE` / `FEED_COMPACTED`: the resume cursor is older than the server keeps
    /// events for; list the tasks again and watch from the new cursor.
    FeedCompacted,
    /// `UNIMPLEMENTED` / `UNSUPPORTED_BY_STORE`: the server's store cannot serve the call.
    UnsupportedByStore,
    /// `UNAUTHENTICATED`: no or unknown credentials.
    Unauthenticated,
    /// `PERMISSION_DENIED`.
    PermissionDenied,
    /// `UNAVAILABLE` without a reason: the server is unreachable or draining.
    Unavailable,
    /// `DEADLINE_EXCEEDED`.
    DeadlineExceeded,
    /// `CANCELLED`.
    Cancelled,
    /// Anything else (see [`Error::code`] and [`Error::reason`]).
    Other,
}

/// One `google.rpc.BadRequest` field violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The offending request field, e.g. `task_id` or `variables.k`.
    pub field: String,
    /// Why it is bad.
    pub description: String,
}

/// An error of a taskstate call: the gRPC status code and message, plus the
/// `google.rpc.ErrorInfo` (reason, metadata) and `google.rpc.BadRequest` the server attached.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    code: Code,
    message: String,
    reason: Option<String>,
    domain: Option<String>,
    metadata: HashMap<String, String>,
    field_violations: Vec<FieldViolation>,
    origin: ErrorOrigin,
    status: Option<tonic::Status>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// The gRPC status code.
    pub fn code(&self) -> Code {
        self.inner.code
    }

    /// The gRPC status code's canonical name, e.g. `NOT_FOUND`.
    pub fn code_name(&self) -> &'static str {
        code_name(self.inner.code)
    }

    /// The status message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The ErrorInfo reason (`TASK_NOT_FOUND`, `VERSION_MISMATCH`, ...), if the server sent one.
    pub fn reason(&self) -> Option<&str> {
        self.inner.reason.as_deref()
    }

    /// The ErrorInfo domain (`taskstate.dev`), if the server sent an ErrorInfo.
    pub fn domain(&self) -> Option<&str> {
        self.inner.domain.as_deref()
    }

    /// The ErrorInfo metadata (e.g. `expected_version`, `actual_version`); empty if none.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.inner.metadata
    }

    /// The `google.rpc.BadRequest` field violations (INVALID_ARGUMENT); empty if none.
    pub fn field_violations(&self) -> &[FieldViolation] {
        &self.inner.field_violations
    }

    /// Where the error comes from.
    pub fn origin(&self) -> ErrorOrigin {
        self.inner.origin
    }

    /// The tonic status this error was built from, if any.
    pub fn status(&self) -> Option<&tonic::Status> {
        self.inner.status.as_ref()
    }

    /// The error classified by reason (or code, when there is no reason).
    pub fn kind(&self) -> ErrorKind {
        let meta_u64 = |k: &str| self.inner.metadata.get(k).and_then(|v| v.parse().ok());
        // Reason strings are the names of the proto's ErrorReason values.
        match self.reason().and_then(ErrorReason::from_str_name) {
            Some(ErrorReason::TaskNotFound) => return ErrorKind::TaskNotFound,
            Some(ErrorReason::VersionMismatch) => {
                return ErrorKind::VersionMismatch {
                    expected: meta_u64("expected_version"),
                    actual: meta_u64("actual_version"),
                }
            }
            Some(ErrorReason::InvalidTransition) => return ErrorKind::InvalidTransition,
            Some(ErrorReason::TaskTerminal) => return ErrorKind::TaskTerminal,
            Some(ErrorReason::InvalidArgument) => return ErrorKind::InvalidArgument,
            Some(ErrorReason::TaskQuotaExceeded) => return ErrorKind::TaskQuotaExceeded,
            Some(ErrorReason::VariablesTooLarge) => return ErrorKind::VariablesTooLarge,
            Some(ErrorReason::BackendUnavailable) => return ErrorKind::BackendUnavailable,
            Some(ErrorReason::LeaseLost) => {
                return ErrorKind::LeaseLost {
                    fencing_token: meta_u64("fencing_token"),
                    current_fencing_token: meta_u64("current_fencing_token"),
                }
            }
            Some(ErrorReason::LeaseHeld) => {
                return ErrorKind::LeaseHeld {
                    lease_expire_time: self.inner.metadata.get("lease_expire_time").cloned(),
                }
            }
            Some(ErrorReason::FeedCompacted) => return ErrorKind::FeedCompacted,
            Some(ErrorReason::UnsupportedByStore) => return ErrorKind::UnsupportedByStore,
            // Never a call's error: LEASE_EXPIRED is the reason in a failed task's error data.
            Some(
                ErrorReason::Unspecified
                | ErrorReason::ValueNotRepresentable
                | ErrorReason::LeaseExpired,
            )
            | None => {}
        }
        match self.inner.code {
            Code::NotFound => ErrorKind::TaskNotFound,
            Code::Aborted => ErrorKind::VersionMismatch {
                expected: None,
                actual: None,
            },
            Code::InvalidArgument => ErrorKind::InvalidArgument,
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            Code::Unavailable => ErrorKind::Unavailable,
            Code::DeadlineExceeded => ErrorKind::DeadlineExceeded,
            Code::Cancelled => ErrorKind::Cancelled,
            _ => ErrorKind::Other,
        }
    }

    /// `NOT_FOUND`: the task does not exist (for this owner).
    pub fn is_not_found(&self) -> bool {
        self.inner.code == Code::NotFound
    }

    /// `ABORTED`: a compare-and-swap lost against a concurrent write.
    pub fn is_version_mismatch(&self) -> bool {
        self.inner.code == Code::Aborted
    }

    /// Whether retrying the same call later may succeed (`UNAVAILABLE`, or a dropped
    /// connection).
    pub fn is_retryable(&self) -> bool {
        self.inner.code == Code::Unavailable
            || (self.inner.origin == ErrorOrigin::Transport
                && matches!(
                    self.inner.code,
                    Code::Unknown | Code::Internal | Code::Cancelled
                ))
    }

    /// An error raised by the client itself.
    pub(crate) fn client(code: Code, message: impl Into<String>) -> Self {
        Error::new(code, message.into(), ErrorOrigin::Client)
    }

    /// Adds an ErrorInfo-style reason (domain [`ERROR_DOMAIN`]) to a client-side error, so
    /// callers match it like the server's.
    pub(crate) fn with_reason(mut self, reason: ErrorReason) -> Self {
        self.inner.reason = Some(reason.as_str_name().to_owned());
        self.inner.domain = Some(ERROR_DOMAIN.to_owned());
        self
    }

    /// Adds a field violation (and the same path as metadata `path`) to a client-side error.
    pub(crate) fn with_field_violation(mut self, field: &str, description: &str) -> Self {
        self.inner
            .metadata
            .insert("path".to_owned(), field.to_owned());
        self.inner.field_violations.push(FieldViolation {
            field: field.to_owned(),
            description: description.to_owned(),
        });
        self
    }

    /// Adds one ErrorInfo-style metadata entry to a client-side error.
    pub(crate) fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.inner.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// A copy of everything but the source (which need not be cloneable), for an error
    /// reported more than once (a lease's loss).
    pub(crate) fn detached(&self) -> Self {
        let i = &self.inner;
        Error {
            inner: Box::new(Inner {
                code: i.code,
                message: i.message.clone(),
                reason: i.reason.clone(),
                domain: i.domain.clone(),
                metadata: i.metadata.clone(),
                field_violations: i.field_violations.clone(),
                origin: i.origin,
                status: i.status.clone(),
                source: None,
            }),
        }
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    fn new(code: Code, message: String, origin: ErrorOrigin) -> Self {
        Error {
            inner: Box::new(Inner {
                code,
                message,
                reason: None,
                domain: None,
                metadata: HashMap::new(),
                field_violations: Vec::new(),
                origin,
                status: None,
                source: None,
            }),
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        // tonic attaches a source (hyper/h2/io error) to statuses it makes up for transport
        // failures; a status decoded from the server's trailers has none.
        let origin = if status.source().is_some() {
            ErrorOrigin::Transport
        } else {
            ErrorOrigin::Server
        };
        let code = match origin {
            ErrorOrigin::Transport => transport_code(&status),
            _ => status.code(),
        };
        let mut err = Error::new(code, status.message().to_owned(), origin);
        let details = status.get_error_details();
        if let Some(info) = details.error_info() {
            err.inner.reason = Some(info.reason.clone()).filter(|r| !r.is_empty());
            err.inner.domain = Some(info.domain.clone());
            err.inner.metadata = info.metadata.clone();
        }
        if let Some(bad) = details.bad_request() {
            err.inner.field_violations = bad
                .field_violations
                .iter()
                .map(|v| FieldViolation {
                    field: v.field.clone(),
                    description: v.description.clone(),
                })
                .collect();
        }
        err.inner.status = Some(status);
        err
    }
}

/// The code of a status tonic made up for a transport failure. tonic names them loosely: a
/// client-side deadline is CANCELLED ("Timeout expired"), a connection the peer would not talk
/// over (a refused TLS handshake, TLS on one side only, a connection closed under the call) is
/// UNKNOWN or CANCELLED. They are reported as every taskstate client reports them:
/// DEADLINE_EXCEEDED and UNAVAILABLE.
fn transport_code(status: &tonic::Status) -> Code {
    let mut source = status.source();
    while let Some(e) = source {
        if e.is::<tonic::TimeoutExpired>() {
            return Code::DeadlineExceeded;
        }
        source = e.source();
    }
    match status.code() {
        Code::Unknown | Code::Cancelled => Code::Unavailable,
        code => code,
    }
}

impl From<tonic::transport::Error> for Error {
    fn from(e: tonic::transport::Error) -> Self {
        let mut msg = e.to_string();
        let mut src: Option<&(dyn StdError + 'static)> = e.source();
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        Error::new(Code::Unavailable, msg, ErrorOrigin::Transport).with_source(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code_name(), self.inner.message)?;
        if let Some(reason) = &self.inner.reason {
            write!(f, " [{reason}]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.inner.code)
            .field("message", &self.inner.message)
            .field("reason", &self.inner.reason)
            .field("metadata", &self.inner.metadata)
            .field("field_violations", &self.inner.field_violations)
            .field("origin", &self.inner.origin)
            .finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        if let Some(s) = &self.inner.source {
            return Some(s.as_ref());
        }
        self.inner.status.as_ref().and_then(|s| s.source())
    }
}

/// The canonical name of a gRPC code (`NOT_FOUND`).
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn decodes_error_info_and_bad_request() {
        let mut details = ErrorDetails::with_error_info(
            "VERSION_MISMATCH",
            ERROR_DOMAIN,
            [
                ("expected_version".to_owned(), "2".to_owned()),
                ("actual_version".to_owned(), "3".to_owned()),
            ],
        );
        details.add_bad_request_violation("task_id", "bad");
        let status = tonic::Status::with_error_details(Code::Aborted, "version mismatch", details);
        let err = Error::from(status);
        assert_eq!(err.code(), Code::Aborted);
        assert_eq!(err.code_name(), "ABORTED");
        assert_eq!(err.reason(), Some("VERSION_MISMATCH"));
        assert_eq!(err.domain(), Some(ERROR_DOMAIN));
        assert_eq!(err.metadata()["actual_version"], "3");
        assert_eq!(
            err.kind(),
            ErrorKind::VersionMismatch {
                expected: Some(2),
                actual: Some(3)
            }
        );
        assert_eq!(err.field_violations()[0].field, "task_id");
        assert_eq!(err.origin(), ErrorOrigin::Server);
        assert_eq!(
            err.to_string(),
            "ABORTED: version mismatch [VERSION_MISMATCH]"
        );
    }

    #[test]
    fn transport_failures_are_unavailable_and_client_deadlines_deadline_exceeded() {
        let timeout = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(timeout.code(), Code::Cancelled, "tonic's own code");
        let err = Error::from(timeout);
        assert_eq!(err.origin(), ErrorOrigin::Transport);
        assert_eq!(err.code(), Code::DeadlineExceeded);
        assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);

        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let dropped = tonic::Status::from_error(Box::new(io));
        assert_eq!(dropped.code(), Code::Unknown, "tonic's own code");
        let err = Error::from(dropped);
        assert_eq!(err.code(), Code::Unavailable);
        assert!(err.is_retryable());

        // A status the server sent keeps its code.
        let err = Error::from(tonic::Status::cancelled("the server cancelled"));
        assert_eq!(
            (err.code(), err.origin()),
            (Code::Cancelled, ErrorOrigin::Server)
        );
    }

    #[test]
    fn lease_errors_carry_their_metadata() {
        let details = ErrorDetails::with_error_info(
            "LEASE_LOST",
            ERROR_DOMAIN,
            [
                ("fencing_token".to_owned(), "3".to_owned()),
                ("current_fencing_token".to_owned(), "0".to_owned()),
            ],
        );
        let status = tonic::Status::with_error_details(Code::FailedPrecondition, "lost", details);
        assert_eq!(
            Error::from(status).kind(),
            ErrorKind::LeaseLost {
                fencing_token: Some(3),
                current_fencing_token: Some(0)
            }
        );
        let at = "2026-12-03T10:00:01.500Z";
        let details = ErrorDetails::with_error_info(
            "LEASE_HELD",
            ERROR_DOMAIN,
            [("lease_expire_time".to_owned(), at.to_owned())],
        );
        let status = tonic::Status::with_error_details(Code::FailedPrecondition, "held", details);
        assert_eq!(
            Error::from(status).kind(),
            ErrorKind::LeaseHeld {
                lease_expire_time: Some(at.to_owned())
            }
        );
    }

    #[test]
    fn plain_status_has_no_reason() {
        let err = Error::from(tonic::Status::unauthenticated("who are you"));
        assert_eq!(err.reason(), None);
        assert!(err.metadata().is_empty());
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    }

    /// Every reason of the proto but ERROR_REASON_UNSPECIFIED is one the client knows, by the
    /// strings it has always matched: the server's pick their kind whatever the code, the
    /// client's own is `VALUE_NOT_REPRESENTABLE`, and `LEASE_EXPIRED` is never a call's error.
    #[test]
    fn reasons_are_the_proto_error_reasons() {
        let server = [
            ("TASK_NOT_FOUND", ErrorKind::TaskNotFound),
            (
                "VERSION_MISMATCH",
                ErrorKind::VersionMismatch {
                    expected: None,
                    actual: None,
                },
            ),
            ("INVALID_TRANSITION", ErrorKind::InvalidTransition),
            ("TASK_TERMINAL", ErrorKind::TaskTerminal),
            ("INVALID_ARGUMENT", ErrorKind::InvalidArgument),
            ("TASK_QUOTA_EXCEEDED", ErrorKind::TaskQuotaExceeded),
            ("VARIABLES_TOO_LARGE", ErrorKind::VariablesTooLarge),
            ("BACKEND_UNAVAILABLE", ErrorKind::BackendUnavailable),
            (
                "LEASE_LOST",
                ErrorKind::LeaseLost {
                    fencing_token: None,
                    current_fencing_token: None,
                },
            ),
            (
                "LEASE_HELD",
                ErrorKind::LeaseHeld {
                    lease_expire_time: None,
                },
            ),
            ("FEED_COMPACTED", ErrorKind::FeedCompacted),
            ("UNSUPPORTED_BY_STORE", ErrorKind::UnsupportedByStore),
        ];
        for (reason, kind) in &server {
            let details = ErrorDetails::with_error_info(*reason, ERROR_DOMAIN, []);
            let err = Error::from(tonic::Status::with_error_details(
                Code::Unknown,
                "x",
                details,
            ));
            assert_eq!(&err.kind(), kind, "{reason}");
        }
        assert_eq!(
            crate::VALUE_NOT_REPRESENTABLE,
            ErrorReason::ValueNotRepresentable.as_str_name()
        );

        let mut generated: Vec<&str> = (0..256)
            .filter_map(|n| ErrorReason::try_from(n).ok())
            .filter(|r| *r != ErrorReason::Unspecified)
            .map(|r| r.as_str_name())
            .collect();
        let mut known: Vec<&str> = server.iter().map(|(reason, _)| *reason).collect();
        known.push(crate::VALUE_NOT_REPRESENTABLE);
        known.push(crate::LEASE_EXPIRED);
        generated.sort_unstable();
        known.sort_unstable();
        assert_eq!(generated, known);
    }
}
