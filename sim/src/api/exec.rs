//! `pods/exec` over websocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`), upgraded by hand on hyper, and
//! [`BasicExec`], an [`ExecHandler`] for a few shell basics.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::error::ApiError;
use super::hooks::{ExecHandler, ExecOutput, ExecRequest};
use super::pods;
use super::resources::PODS;
use super::server::{ApiState, Ctx};
use super::store::Store;

/// The subprotocols served, preferred first.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The protocol the server picks from the client's offer (any number of headers, comma-separated).
pub fn pick_protocol<'a>(offered: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    let offered: Vec<String> = offered.flat_map(|h| h.split(',')).map(|p| p.trim().to_string()).collect();
    PROTOCOLS.into_iter().find(|p| offered.iter().any(|o| o == p))
}

/// The status-channel message of an exit code.
pub fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}
    })
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/exec` with a websocket upgrade.
pub fn exec(st: &Arc<ApiState>, ctx: &Ctx, ns: &str, name: &str) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let pod = st.store.get(&PODS, Some(ns), name)?;
    let container = pods::container(&pod, q.get("container"))?;
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(format!("pod {name} does not have a host assigned")));
    }
    let command = q.all("command");
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if !pods::is_running(&pod, &container) {
        // The kubelet's answer, which kubectl shows as "unable to upgrade connection: ...".
        return Err(ApiError::new(500, "InternalError", format!("container not found (\"{container}\")")));
    }
    let upgrade_to = ctx.header(header::UPGRADE);
    let is_ws = upgrade_to.is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let key = ctx.header(header::SEC_WEBSOCKET_KEY).map(str::to_string);
    let (Some(key), true) = (key, is_ws) else {
        return Err(match upgrade_to {
            // kubectl falls back to SPDY when the websocket upgrade fails; the request was valid, the protocol not.
            Some(other) => ApiError::bad_request(format!(
                "vmmigrate-sim serves exec over websocket only ({}), not {other}",
                PROTOCOLS.join(", ")
            )),
            None => ApiError::bad_request("Upgrade request required"),
        });
    };
    let offered = ctx.headers.get_all(header::SEC_WEBSOCKET_PROTOCOL).iter().filter_map(|v| v.to_str().ok());
    let Some(protocol) = pick_protocol(offered) else {
        return Err(ApiError::bad_request(format!(
            "no supported websocket subprotocol offered; supported: {}",
            PROTOCOLS.join(", ")
        )));
    };
    let upgrade = ctx.take_upgrade().ok_or_else(|| ApiError::bad_request("Upgrade request required"))?;
    let session = Session {
        store: st.store.clone(),
        exec: st.exec.clone(),
        req: ExecRequest { namespace: ns.to_string(), pod, container, command, tty: q.flag("tty") },
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
    };
    tokio::spawn(async move {
        if let Ok(io) = upgrade.await {
            let ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Server, None).await;
            session.run(ws).await;
        }
    });
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, header::HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
    if let Ok(v) = header::HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    h.insert(header::SEC_WEBSOCKET_PROTOCOL, header::HeaderValue::from_static(protocol));
    Ok(r)
}

struct Session {
    store: Store,
    exec: Arc<dyn ExecHandler>,
    req: ExecRequest,
    stdout: bool,
    stderr: bool,
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::binary(v)
}

impl Session {
    async fn run<S>(self, ws: WebSocketStream<S>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (mut tx, mut rx) = ws.split();
        let command = self.req.command.clone();
        let mut out = self.exec.start(&self.store, self.req);
        let status = loop {
            tokio::select! {
                o = out.recv() => match o {
                    Some(ExecOutput::Stdout(b)) if self.stdout => {
                        if tx.send(frame(1, &b)).await.is_err() { return; }
                    }
                    Some(ExecOutput::Stderr(b)) if self.stderr => {
                        if tx.send(frame(2, &b)).await.is_err() { return; }
                    }
                    Some(ExecOutput::Stdout(_) | ExecOutput::Stderr(_)) => {}
                    Some(ExecOutput::Exit(code)) => break exit_status(&command, code),
                    None => break json!({"metadata": {}, "status": "Failure", "reason": "InternalError",
                        "message": "error executing command: the process ended without an exit status"}),
                },
                m = rx.next() => match m {
                    // stdin (channel 0), resize (4) and v5's close (255) need no answer: the handlers read no stdin.
                    Some(Ok(Message::Binary(_) | Message::Text(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    // The client went: dropping `out` stops the process.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                },
            }
        };
        drop(out);
        if tx.send(frame(3, status.to_string().as_bytes())).await.is_err() {
            return;
        }
        // kubectl reports a close without a status code (1005) as an error: close normally.
        let close = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        if tx.send(Message::Close(Some(close))).await.is_err() {
            return;
        }
        // Wait briefly for the client's close reply so that the close handshake completes.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(m)) = rx.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }
}

/// An [`ExecHandler`] for shell basics: `echo`, `true`, `false`, `hostname`, `cat /etc/hostname`, `sleep N`
/// (simulated seconds) and `env`; anything else fails as a missing executable with exit code 127.
pub struct BasicExec;

impl BasicExec {
    /// What a basic command prints and its exit code, or, for `sleep`, how long to sleep (simulated).
    fn run(req: &ExecRequest) -> Result<(Vec<ExecOutput>, i32), Duration> {
        let pod_name = req.pod["metadata"]["name"].as_str().unwrap_or_default();
        let args: Vec<&str> = req.command.iter().map(String::as_str).collect();
        let out = |s: String| ExecOutput::Stdout(Bytes::from(s));
        let err = |s: String| ExecOutput::Stderr(Bytes::from(s));
        Ok(match args.as_slice() {
            ["echo", rest @ ..] => (vec![out(format!("{}\n", rest.join(" ")))], 0),
            ["true", ..] => (vec![], 0),
            ["false", ..] => (vec![], 1),
            ["hostname"] | ["cat", "/etc/hostname"] => (vec![out(format!("{pod_name}\n"))], 0),
            ["sleep", n] => match n.parse::<f64>() {
                Ok(secs) if secs >= 0.0 && secs.is_finite() => return Err(Duration::from_secs_f64(secs)),
                _ => (vec![err(format!("sleep: invalid number '{n}'\n"))], 1),
            },
            ["env"] => {
                let mut lines = vec![
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
                    format!("HOSTNAME={pod_name}"),
                ];
                let containers = ["containers", "ephemeralContainers"]
                    .iter()
                    .filter_map(|l| req.pod["spec"][*l].as_array())
                    .flatten()
                    .find(|c| c["name"] == req.container.as_str());
                if let Some(env) = containers.and_then(|c| c["env"].as_array()) {
                    for e in env {
                        lines.push(format!(
                            "{}={}",
                            e["name"].as_str().unwrap_or(""),
                            e["value"].as_str().unwrap_or("")
                        ));
                    }
                }
                (vec![out(lines.iter().map(|l| format!("{l}\n")).collect())], 0)
            }
            [cmd, ..] => (vec![err(format!("exec: \"{cmd}\": executable file not found in $PATH\n"))], 127),
            [] => (vec![err("exec: no command\n".into())], 127),
        })
    }
}

impl ExecHandler for BasicExec {
    fn start(&self, store: &Store, req: ExecRequest) -> mpsc::Receiver<ExecOutput> {
        let (tx, rx) = mpsc::channel(64);
        let clock = store.clock().clone();
        tokio::spawn(async move {
            let (outputs, code) = match Self::run(&req) {
                Ok(r) => r,
                Err(sleep) => {
                    tokio::select! {
                        _ = clock.sleep(sleep) => (vec![], 0),
                        // The client went away: stop sleeping.
                        _ = tx.closed() => return,
                    }
                }
            };
            for o in outputs {
                if tx.send(o).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(ExecOutput::Exit(code)).await;
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_is_preferred_and_v4_accepted() {
        assert_eq!(pick_protocol(["v4.channel.k8s.io, v5.channel.k8s.io"].into_iter()), Some("v5.channel.k8s.io"));
        assert_eq!(pick_protocol(["channel.k8s.io", "v4.channel.k8s.io"].into_iter()), Some("v4.channel.k8s.io"));
        assert_eq!(pick_protocol(["base64.channel.k8s.io"].into_iter()), None);
    }

    #[test]
    fn non_zero_exit_status_carries_the_code() {
        let s = exit_status(&["false".into()], 3);
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0], json!({"reason": "ExitCode", "message": "3"}));
        assert_eq!(exit_status(&[], 0)["status"], "Success");
    }

    fn req(cmd: &[&str]) -> ExecRequest {
        ExecRequest {
            namespace: "ns".into(),
            pod: json!({"metadata": {"name": "web-1"}, "spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "b"}]}]}}),
            container: "c".into(),
            command: cmd.iter().map(|s| s.to_string()).collect(),
            tty: false,
        }
    }

    #[test]
    fn basic_commands() {
        let (o, c) = BasicExec::run(&req(&["echo", "hi", "there"])).unwrap();
        assert_eq!((o, c), (vec![ExecOutput::Stdout(Bytes::from("hi there\n"))], 0));
        assert_eq!(BasicExec::run(&req(&["false"])).unwrap().1, 1);
        assert_eq!(BasicExec::run(&req(&["hostname"])).unwrap().0, vec![ExecOutput::Stdout(Bytes::from("web-1\n"))]);
        let (o, c) = BasicExec::run(&req(&["env"])).unwrap();
        assert_eq!(c, 0);
        assert!(matches!(&o[0], ExecOutput::Stdout(b) if String::from_utf8_lossy(b).contains("A=b\n")));
        let (o, c) = BasicExec::run(&req(&["ping", "x"])).unwrap();
        assert_eq!(c, 127);
        assert_eq!(o, vec![ExecOutput::Stderr(Bytes::from("exec: \"ping\": executable file not found in $PATH\n"))]);
        assert_eq!(BasicExec::run(&req(&["sleep", "2"])).unwrap_err(), Duration::from_secs(2));
    }
}
