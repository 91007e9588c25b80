//! HTTP test helpers: a started sim and a small HTTP/websocket client speaking to it over real sockets.
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use vmmigrate_sim::api::Store;
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::{Sim, SimHandle, SimOptions};

/// Simulated time runs this much faster than real time in tests.
pub const SPEED: f64 = 200.0;

/// A sim with the base namespaces and `ns`, built from `opts` applied to the defaults.
pub async fn start_with(change: impl FnOnce(&mut SimOptions)) -> SimHandle {
    let store = Store::new(SimClock::new(SPEED));
    vmmigrate_sim::empty_cluster(&store).unwrap();
    let mut opts = SimOptions::new(store);
    change(&mut opts);
    Sim::start(opts).await.unwrap()
}

pub async fn start() -> SimHandle {
    start_with(|_| {}).await
}

pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

async fn send(base: &str, method: &str, path: &str, ct: Option<&str>, body: Vec<u8>) -> hyper::Response<Incoming> {
    send_with(base, method, path, ct, None, body).await
}

async fn send_with(
    base: &str,
    method: &str,
    path: &str,
    ct: Option<&str>,
    accept: Option<&str>,
    body: Vec<u8>,
) -> hyper::Response<Incoming> {
    let addr = base.trim_start_matches("http://");
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder().method(method).uri(path).header("host", addr);
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    sender.send_request(req.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap()
}

/// One request, answer read in full.
pub async fn call(base: &str, method: &str, path: &str, ct: Option<&str>, body: Option<&Value>) -> Resp {
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    read(send(base, method, path, ct, body).await).await
}

/// A GET with an `Accept` header.
pub async fn call_accept(base: &str, path: &str, accept: &str) -> Resp {
    read(send_with(base, "GET", path, None, Some(accept), vec![]).await).await
}

async fn read(r: hyper::Response<Incoming>) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body }
}

pub async fn get(base: &str, path: &str) -> Resp {
    call(base, "GET", path, None, None).await
}

pub async fn post(base: &str, path: &str, body: &Value) -> Resp {
    call(base, "POST", path, Some("application/json"), Some(body)).await
}

/// A streamed answer (watch, log follow), read line by line.
pub struct Lines {
    pub status: u16,
    body: Incoming,
    buf: Vec<u8>,
    pub ended: bool,
}

impl Lines {
    /// The next line, `None` once the stream ended (or nothing came for 60 s: a hang guard, which fails the caller's asserts).
    pub async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout(Duration::from_secs(60), self.body.frame()).await {
                Ok(Some(Ok(f))) => {
                    if let Ok(d) = f.into_data() {
                        self.buf.extend_from_slice(&d);
                    }
                }
                Ok(_) => self.ended = true,
                Err(_) => return None,
            }
        }
    }

    /// The next line as JSON.
    pub async fn event(&mut self) -> Value {
        let l = self.next().await.expect("a watch event");
        serde_json::from_str(&l).unwrap()
    }
}

pub async fn stream(base: &str, path: &str) -> Lines {
    let r = send(base, "GET", path, None, vec![]).await;
    Lines { status: r.status().as_u16(), body: r.into_body(), buf: vec![], ended: false }
}

/// The frames of a websocket exec: `(channel, payload)` in order, until the server closes; and the close code.
pub async fn exec_ws(
    base: &str,
    path: &str,
    protocols: &str,
) -> Result<(String, Vec<(u8, Vec<u8>)>, Option<u16>), String> {
    let url = format!("{}{}", base.replace("http://", "ws://"), path);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    let tcp = TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(req, tcp).await.map_err(|e| e.to_string())?;
    let proto =
        resp.headers().get("Sec-WebSocket-Protocol").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let mut frames = vec![];
    let mut close = None;
    while let Some(m) = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.ok().flatten() {
        match m {
            Ok(Message::Binary(b)) if !b.is_empty() => frames.push((b[0], b[1..].to_vec())),
            Ok(Message::Close(c)) => {
                close = c.map(|c| u16::from(c.code));
                let _ = ws.close(None).await;
                break;
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let _ = ws.flush().await;
    Ok((proto, frames, close))
}

/// Waits (polling, bounded by a generous count) until `check` holds for the object at `path`.
pub async fn wait_for(base: &str, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..3000 {
        let r = get(base, path).await;
        if r.status == 200 && check(&r.json()) {
            return r.json();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never reached the expected state: {:?}", get(base, path).await.json());
}
