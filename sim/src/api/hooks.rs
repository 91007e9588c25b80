//! The seams between the generic API server and what runs behind it: admission (KubeVirt's webhooks) and
//! exec (the emulated or real probe tools). The API layer calls these; it never imports the KubeVirt code.

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::error::ApiError;
use super::resources::ResourceType;
use super::store::Store;

/// The operation under admission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// What an admission plugin sees of a request.
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    pub resource: &'static ResourceType,
    /// `status`, `ephemeralcontainers`, ... or `None` for the main resource.
    pub subresource: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    /// The stored object for Update and Delete.
    pub old: Option<&'a Value>,
    pub dry_run: bool,
    pub store: &'a Store,
}

/// A mutating + validating admission plugin (like a webhook pair).
pub trait Admission: Send + Sync {
    /// May change `obj` (the new object; for Delete the stored one) or deny the request. A denial from a
    /// webhook is `ApiError { code: 400, reason: "", message: "admission webhook \"...\" denied the request: ..." }`.
    fn admit(&self, req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError>;
}

/// An exec request after the pod and container were found.
#[derive(Clone, Debug)]
pub struct ExecRequest {
    pub namespace: String,
    /// The pod as stored.
    pub pod: Value,
    pub container: String,
    pub command: Vec<String>,
    pub tty: bool,
}

/// Output of an exec'd process. `Exit` is the last message.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecOutput {
    Stdout(Bytes),
    Stderr(Bytes),
    /// The exit code; 0 is success.
    Exit(i32),
    /// The runtime could not start the process (containerd's `failed to exec in container: ...`): the kubelet
    /// answers with an `InternalError` status `error executing command in container: <message>` and no exit code
    /// (see [`super::exec::start_failed_status`]). The last message, instead of `Exit`.
    StartFailed(String),
}

/// Runs commands "inside" containers.
pub trait ExecHandler: Send + Sync {
    /// Starts the command and returns its output. When the receiver is dropped (the client went away) the
    /// process must stop: the handler notices a failed send and ends, so that nothing outlives its client.
    /// An error before start (for example a missing executable) is reported as `StartFailed` with the runtime's
    /// message, as containerd does (`OCI runtime exec failed: ... exec: "ping": executable file not found in
    /// $PATH: unknown`), or as output plus `Exit(127)` for a shell's own "not found".
    fn start(&self, store: &Store, req: ExecRequest) -> mpsc::Receiver<ExecOutput>;
}

/// Admission that admits everything unchanged.
pub struct AdmitAll;

impl Admission for AdmitAll {
    fn admit(&self, _req: &AdmissionRequest<'_>, _obj: &mut Value) -> Result<(), ApiError> {
        Ok(())
    }
}
