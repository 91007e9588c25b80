//! The object store: what etcd plus the generic registry are to a real API server.
//!
//! One global resourceVersion counter; every change is an event kept in a bounded history, so that a watch can
//! resume from a resourceVersion and get `410 Expired` once it fell out of the window. Objects are JSON values;
//! the store fills the fields the API server owns (uid, resourceVersion, creationTimestamp, generation,
//! deletionTimestamp) and honours finalizers. It knows nothing of KubeVirt.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::error::ApiError;
use super::resources::{self, ResourceType};
use crate::clock::SimClock;

/// The kind of a change, as a watch reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The watch event `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change of one object.
#[derive(Clone, Debug)]
pub struct StoreEvent {
    pub rv: u64,
    pub kind: EventType,
    pub resource: &'static ResourceType,
    pub namespace: Option<String>,
    pub name: String,
    pub object: Arc<Value>,
    /// The object before this change (`None` for ADDED); for DELETED the last stored state. Watches with
    /// selectors use it to turn a change that leaves or enters the selection into DELETED or ADDED.
    pub prev: Option<Arc<Value>>,
}

impl StoreEvent {
    /// Whether the event is about `rt` in `ns` (`None`: all namespaces).
    pub fn matches(&self, rt: &ResourceType, ns: Option<&str>) -> bool {
        self.resource == rt && ns.is_none_or(|ns| self.namespace.as_deref() == Some(ns))
    }
}

/// How an update treats the incoming object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateMode {
    /// A client's PUT of the main resource: `status` is ignored when the type has a status subresource.
    Main,
    /// A PUT of the `status` subresource: only `status` is taken.
    Status,
    /// A controller's write of the whole object (spec, status and metadata), as the sim's controllers do.
    Full,
}

/// A line of a container log, with the (simulated) time it was written.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub time: jiff::Timestamp,
    pub line: String,
}

type Key = (&'static str, &'static str, String, String);
type LogKey = (String, String, String);

struct State {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<StoreEvent>,
    /// resourceVersions at or below this are no longer in the history.
    compacted: u64,
    logs: HashMap<LogKey, (Vec<LogLine>, broadcast::Sender<LogLine>)>,
}

struct Inner {
    state: Mutex<State>,
    tx: broadcast::Sender<StoreEvent>,
    clock: SimClock,
    history_cap: usize,
}

/// One page of a list ([`Store::list_page`]).
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    /// Accepted objects after this page.
    pub remaining: usize,
    /// The resourceVersion of the snapshot the page is from.
    pub rv: u64,
}

/// The shared store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Default number of events a watch can resume across.
pub const DEFAULT_HISTORY: usize = 10_000;

fn key(rt: &'static ResourceType, ns: Option<&str>, name: &str) -> Key {
    (rt.group, rt.plural, ns.unwrap_or("").to_string(), name.to_string())
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str)
}

fn finalizers_empty(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(|a| a.is_empty())
}

/// Random suffix of `generateName`, from the alphabet the API server uses.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4();
    bytes.as_bytes()[..5].iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

impl Store {
    pub fn new(clock: SimClock) -> Self {
        Self::with_history(clock, DEFAULT_HISTORY)
    }

    /// A store keeping `history_cap` events for watches to resume from.
    pub fn with_history(clock: SimClock, history_cap: usize) -> Self {
        let (tx, _) = broadcast::channel(65_536);
        let state = State {
            rv: 1000,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 1000,
            logs: HashMap::new(),
        };
        Self { inner: Arc::new(Inner { state: Mutex::new(state), tx, clock, history_cap: history_cap.max(1) }) }
    }

    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in the sim; keep serving what is there.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current resourceVersion of the whole store.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// The oldest resourceVersion a watch can still start from.
    pub fn oldest_rv(&self) -> u64 {
        self.lock().compacted
    }

    /// Drops the whole watch history: every resourceVersion handed out so far becomes too old (fault injection).
    pub fn expire_history(&self) {
        let mut st = self.lock();
        st.history.clear();
        // Every version handed out so far becomes too old, the current one included: a client resuming from the
        // last one it saw must relist. The counter moves on by one so that the relist's version can be watched.
        st.rv += 1;
        st.compacted = st.rv;
    }

    /// Live events from now on (for controllers).
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.inner.tx.subscribe()
    }

    fn record(&self, st: &mut State, kind: EventType, rt: &'static ResourceType, obj: &Value, prev: Option<&Value>) {
        let ev = StoreEvent {
            prev: prev.map(|p| Arc::new(p.clone())),
            rv: st.rv,
            kind,
            resource: rt,
            namespace: meta_str(obj, "namespace").map(str::to_string),
            name: meta_str(obj, "name").unwrap_or_default().to_string(),
            object: Arc::new(obj.clone()),
        };
        st.history.push_back(ev.clone());
        while st.history.len() > self.inner.history_cap {
            if let Some(old) = st.history.pop_front() {
                st.compacted = old.rv;
            }
        }
        // No receivers is fine.
        let _ = self.inner.tx.send(ev);
    }

    fn check_namespace(st: &State, rt: &ResourceType, ns: Option<&str>) -> Result<(), ApiError> {
        if rt.namespaced {
            let ns = ns.ok_or_else(|| ApiError::bad_request("the namespace of the object must be set"))?;
            if !st.objects.contains_key(&key(&resources::NAMESPACES, None, ns)) {
                return Err(ApiError::namespace_not_found(ns));
            }
        }
        Ok(())
    }

    /// Gets one object.
    pub fn get(&self, rt: &'static ResourceType, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.lock().objects.get(&key(rt, ns, name)).cloned().ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Lists the objects of a type in a namespace (`None`: all), ordered by namespace and name, with the
    /// resourceVersion of the snapshot.
    pub fn list(&self, rt: &'static ResourceType, ns: Option<&str>) -> (Vec<Value>, u64) {
        let st = self.lock();
        let items = Self::kind_range(&st, rt, ns, None).map(|(_, v)| v.clone()).collect();
        (items, st.rv)
    }

    /// The stored objects of one kind (in `ns` when given), in key order, from `start` on: a range scan of the
    /// kind's keys, never a walk over the whole store.
    fn kind_range<'a>(
        st: &'a State,
        rt: &'static ResourceType,
        ns: Option<&'a str>,
        start: Option<&(String, String)>,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> {
        let lower: Key = match start {
            Some((n, name)) => (rt.group, rt.plural, n.clone(), name.clone()),
            None => (rt.group, rt.plural, ns.unwrap_or("").to_string(), String::new()),
        };
        st.objects
            .range(lower..)
            .take_while(move |((g, p, n, _), _)| {
                *g == rt.group && *p == rt.plural && ns.is_none_or(|ns| n.as_str() <= ns)
            })
            .filter(move |((_, _, n, _), _)| ns.is_none_or(|ns| n == ns))
    }

    /// One page of a list, as the API server serves `limit`/`continue`: the objects of a kind as they were at
    /// resourceVersion `at` (`None`: now) after `start_after` (namespace, name), those `keep` accepts, at most
    /// `limit` of them, and how many accepted ones follow. Only the page is copied; the snapshot is rebuilt from
    /// the history only when the kind changed since `at`. 410 Expired once the history no longer reaches `at`.
    pub fn list_page(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        at: Option<u64>,
        start_after: Option<&(String, String)>,
        keep: &dyn Fn(&Value) -> bool,
        limit: Option<usize>,
    ) -> Result<Page, ApiError> {
        let st = self.lock();
        let rv = at.unwrap_or(st.rv);
        if rv < st.compacted {
            return Err(ApiError::expired(format!("too old resource version: {rv} ({})", st.compacted + 1)));
        }
        let mut page = Page { items: Vec::new(), remaining: 0, rv };
        let mut take = |n: &str, name: &str, v: &Value| {
            if start_after.is_some_and(|(sn, sname)| (n, name) <= (sn.as_str(), sname.as_str())) || !keep(v) {
                return;
            }
            if limit.is_none_or(|l| page.items.len() < l) {
                page.items.push(v.clone());
            } else {
                page.remaining += 1;
            }
        };
        let changed = st.history.iter().rev().take_while(|e| e.rv > rv).any(|e| e.matches(rt, ns));
        if changed {
            drop(st);
            for v in self.list_at(rt, ns, rv)? {
                take(meta_str(&v, "namespace").unwrap_or(""), meta_str(&v, "name").unwrap_or(""), &v);
            }
        } else {
            for ((_, _, n, name), v) in Self::kind_range(&st, rt, ns, start_after) {
                take(n, name, v);
            }
        }
        Ok(page)
    }

    /// The objects of a type in a namespace (`None`: all) as they were at resourceVersion `rv`, ordered as
    /// [`Store::list`]: the current ones with every later change of the history undone. 410 Expired once the
    /// history no longer reaches back to `rv`.
    pub fn list_at(&self, rt: &'static ResourceType, ns: Option<&str>, rv: u64) -> Result<Vec<Value>, ApiError> {
        let st = self.lock();
        if rv < st.compacted {
            return Err(ApiError::expired(format!("too old resource version: {rv} ({})", st.compacted + 1)));
        }
        let mut objs: BTreeMap<(String, String), Value> = Self::kind_range(&st, rt, ns, None)
            .map(|((_, _, n, name), v)| ((n.clone(), name.clone()), v.clone()))
            .collect();
        for ev in st.history.iter().rev().take_while(|e| e.rv > rv).filter(|e| e.matches(rt, ns)) {
            let k = (ev.namespace.clone().unwrap_or_default(), ev.name.clone());
            match (ev.kind, &ev.prev) {
                (EventType::Added, _) => {
                    objs.remove(&k);
                }
                (EventType::Modified | EventType::Deleted, Some(prev)) => {
                    objs.insert(k, (**prev).clone());
                }
                (EventType::Modified | EventType::Deleted, None) => {}
            }
        }
        Ok(objs.into_values().collect())
    }

    /// Creates an object. Fills name from `generateName`, uid, resourceVersion, creationTimestamp, generation,
    /// namespace, apiVersion and kind. With `dry_run` nothing is stored and no event is sent.
    pub fn create(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut st = self.lock();
        Self::check_namespace(&st, rt, ns)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body of the request was not a JSON object"));
        }
        if !obj.get("metadata").is_some_and(Value::is_object) {
            obj["metadata"] = json!({});
        }
        let mut name = meta_str(&obj, "name").unwrap_or_default().to_string();
        if name.is_empty() {
            let Some(prefix) = meta_str(&obj, "generateName").filter(|g| !g.is_empty()) else {
                return Err(ApiError::invalid(
                    rt,
                    rt.kind,
                    "",
                    &[("metadata.name", "Required value: name or generateName is required")],
                ));
            };
            // The API server retries generated names a few times before giving up.
            let prefix = prefix.to_string();
            name = (0..8)
                .map(|_| format!("{prefix}{}", random_suffix()))
                .find(|n| !st.objects.contains_key(&key(rt, ns, n)))
                .ok_or_else(|| ApiError::already_exists(rt, &prefix))?;
        }
        if st.objects.contains_key(&key(rt, ns, &name)) {
            return Err(ApiError::already_exists(rt, &name));
        }
        let now = self.inner.clock.now_rfc3339();
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        let m = &mut obj["metadata"];
        m["name"] = json!(name);
        if rt.namespaced {
            m["namespace"] = json!(ns);
        } else if let Some(map) = m.as_object_mut() {
            map.remove("namespace");
        }
        m["uid"] = json!(uuid::Uuid::new_v4().to_string());
        m["creationTimestamp"] = json!(now);
        if let Some(map) = m.as_object_mut() {
            map.remove("deletionTimestamp");
            map.remove("resourceVersion");
        }
        if obj.get("spec").is_some() {
            obj["metadata"]["generation"] = json!(1);
        }
        if dry_run {
            obj["metadata"]["resourceVersion"] = json!("");
            if let Some(map) = obj["metadata"].as_object_mut() {
                map.remove("resourceVersion");
            }
            return Ok(obj);
        }
        st.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(st.rv.to_string());
        st.objects.insert(key(rt, ns, &name), obj.clone());
        self.record(&mut st, EventType::Added, rt, &obj, None);
        Ok(obj)
    }

    /// Replaces an object. A non-empty `metadata.resourceVersion` in `obj` must match the stored one (409 Conflict
    /// otherwise). An update that changes nothing sends no event and keeps the resourceVersion, like the real
    /// API server. Removing the last finalizer of an object that is being deleted deletes it.
    pub fn update(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        obj: Value,
        mode: UpdateMode,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut st = self.lock();
        self.update_locked(&mut st, rt, ns, name, obj, mode, dry_run)
    }

    #[allow(clippy::too_many_arguments)]
    fn update_locked(
        &self,
        st: &mut State,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        mode: UpdateMode,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let k = key(rt, ns, name);
        let old = st.objects.get(&k).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        if let Some(rv) = meta_str(&obj, "resourceVersion").filter(|rv| !rv.is_empty())
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(rt, name));
        }
        if let Some(n) = meta_str(&obj, "name").filter(|n| *n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        match mode {
            UpdateMode::Status => {
                let mut merged = old.clone();
                merged["status"] = obj.get("status").cloned().unwrap_or(Value::Null);
                if merged["status"].is_null()
                    && let Some(m) = merged.as_object_mut()
                {
                    m.remove("status");
                }
                obj = merged;
            }
            UpdateMode::Main if rt.has_status() => match old.get("status") {
                Some(s) => obj["status"] = s.clone(),
                None => {
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("status");
                    }
                }
            },
            UpdateMode::Main | UpdateMode::Full => {}
        }
        if !obj.get("metadata").is_some_and(Value::is_object) {
            obj["metadata"] = json!({});
        }
        // Fields the server owns.
        for f in ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"] {
            match old["metadata"].get(f) {
                Some(v) => obj["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = obj["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        let old_gen = old["metadata"].get("generation").and_then(Value::as_i64);
        match old_gen {
            Some(g) if old.get("spec") != obj.get("spec") => obj["metadata"]["generation"] = json!(g + 1),
            Some(g) => obj["metadata"]["generation"] = json!(g),
            None => {}
        }
        obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if obj == old {
            return Ok(old);
        }
        if dry_run {
            return Ok(obj);
        }
        st.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(st.rv.to_string());
        if obj["metadata"].get("deletionTimestamp").is_some() && finalizers_empty(&obj) {
            st.objects.remove(&k);
            self.record(st, EventType::Deleted, rt, &obj, Some(&old));
        } else {
            st.objects.insert(k, obj.clone());
            self.record(st, EventType::Modified, rt, &obj, Some(&old));
        }
        Ok(obj)
    }

    /// Reads, changes and writes an object in one step under the store's lock (for the sim's controllers).
    /// `change` must not call the store. Returns the written object.
    pub fn modify(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        change: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        // One lock for the read and the write, so that no other writer's change is lost in between.
        let mut st = self.lock();
        let mut obj = st.objects.get(&key(rt, ns, name)).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        change(&mut obj)?;
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        self.update_locked(&mut st, rt, ns, name, obj, UpdateMode::Full, false)
    }

    /// Deletes an object. With finalizers it only gets a `deletionTimestamp` (a MODIFIED event) until a later
    /// update removes the last one; otherwise it goes at once (a DELETED event carrying its last state).
    pub fn delete(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut st = self.lock();
        let k = key(rt, ns, name);
        let old = st.objects.get(&k).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        let mut obj = old.clone();
        if dry_run {
            return Ok(obj);
        }
        st.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(st.rv.to_string());
        if finalizers_empty(&obj) {
            st.objects.remove(&k);
            self.record(&mut st, EventType::Deleted, rt, &obj, Some(&old));
        } else if obj["metadata"].get("deletionTimestamp").is_none() {
            obj["metadata"]["deletionTimestamp"] = json!(self.inner.clock.now_rfc3339());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            st.objects.insert(k, obj.clone());
            self.record(&mut st, EventType::Modified, rt, &obj, Some(&old));
        } else {
            // Already being deleted: nothing changes.
            st.rv -= 1;
            return Ok(st.objects.get(&k).cloned().unwrap_or(obj));
        }
        Ok(obj)
    }

    /// Graceful deletion (a pod on a node): the object only gets `deletionTimestamp` = now + `grace_seconds` and
    /// `deletionGracePeriodSeconds` (a MODIFIED event); whoever stops it (the kubelet) then calls [`Store::delete`].
    /// An object already being deleted stays as it is; a grace of 0 is [`Store::delete`].
    pub fn delete_gracefully(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        grace_seconds: u64,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if grace_seconds == 0 {
            return self.delete(rt, ns, name, dry_run);
        }
        let mut st = self.lock();
        let k = key(rt, ns, name);
        let old = st.objects.get(&k).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        if old["metadata"].get("deletionTimestamp").is_some() {
            return Ok(old);
        }
        let mut obj = old.clone();
        let grace = jiff::SignedDuration::from_secs(i64::try_from(grace_seconds).unwrap_or(i64::MAX / 2));
        let now = self.inner.clock.now();
        obj["metadata"]["deletionTimestamp"] = json!(crate::clock::format_time(now.checked_add(grace).unwrap_or(now)));
        obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace_seconds);
        if dry_run {
            return Ok(obj);
        }
        st.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(st.rv.to_string());
        st.objects.insert(k, obj.clone());
        self.record(&mut st, EventType::Modified, rt, &obj, Some(&old));
        Ok(obj)
    }

    /// Starts a watch of `rt` in `ns` (`None`: all namespaces).
    ///
    /// `from`: `None` (no resourceVersion or "0") gives synthetic ADDED events for every current object first;
    /// `Some(rv)` replays the history after `rv`, or fails with 410 Expired when `rv` is older than the history.
    /// The receiver delivers every later event (of all types: filter with [`StoreEvent::matches`]).
    pub fn watch(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        from: Option<u64>,
    ) -> Result<(Vec<StoreEvent>, broadcast::Receiver<StoreEvent>), ApiError> {
        let st = self.lock();
        let rx = self.inner.tx.subscribe();
        let backlog = match from {
            None => st
                .objects
                .iter()
                .filter(|((g, p, n, _), _)| *g == rt.group && *p == rt.plural && ns.is_none_or(|ns| n == ns))
                .map(|((_, _, n, name), v)| StoreEvent {
                    rv: v["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or(st.rv),
                    kind: EventType::Added,
                    resource: rt,
                    namespace: if n.is_empty() { None } else { Some(n.clone()) },
                    name: name.clone(),
                    object: Arc::new(v.clone()),
                    prev: None,
                })
                .collect(),
            Some(rv) if rv < st.compacted => {
                return Err(ApiError::expired(format!("too old resource version: {rv} ({})", st.compacted + 1)));
            }
            Some(rv) => st.history.iter().filter(|e| e.rv > rv && e.matches(rt, ns)).cloned().collect(),
        };
        Ok((backlog, rx))
    }

    /// Appends a line to a container's log.
    pub fn append_log(&self, ns: &str, pod: &str, container: &str, line: impl Into<String>) {
        let mut st = self.lock();
        let entry = st
            .logs
            .entry((ns.to_string(), pod.to_string(), container.to_string()))
            .or_insert_with(|| (Vec::new(), broadcast::channel(4096).0));
        let l = LogLine { time: self.inner.clock.now(), line: line.into() };
        entry.0.push(l.clone());
        let _ = entry.1.send(l);
    }

    /// A container's log so far and a receiver of the lines that follow.
    pub fn read_log(&self, ns: &str, pod: &str, container: &str) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let mut st = self.lock();
        let entry = st
            .logs
            .entry((ns.to_string(), pod.to_string(), container.to_string()))
            .or_insert_with(|| (Vec::new(), broadcast::channel(4096).0));
        (entry.0.clone(), entry.1.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::{NAMESPACES, PODS, VMIMS};

    fn store() -> Store {
        let s = Store::new(SimClock::default());
        s.create(&NAMESPACES, None, json!({"metadata": {"name": "ns"}}), false).unwrap();
        s
    }

    #[test]
    fn create_fills_server_fields_and_generates_names() {
        let s = store();
        let o = s
            .create(&VMIMS, Some("ns"), json!({"metadata": {"generateName": "m-"}, "spec": {"vmiName": "v"}}), false)
            .unwrap();
        let name = o["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("m-") && name.len() == 7, "{name}");
        assert_eq!(o["metadata"]["generation"], 1);
        assert_eq!(o["kind"], "VirtualMachineInstanceMigration");
        assert!(o["metadata"]["uid"].as_str().is_some());
        let err = s.create(&PODS, Some("nope"), json!({"metadata": {"name": "p"}}), false).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (404, "namespaces \"nope\" not found"));
        let err = s.create(&VMIMS, Some("ns"), json!({"metadata": {"name": name}}), false).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.reason, "AlreadyExists");
    }

    #[test]
    fn dry_run_stores_nothing() {
        let s = store();
        let rv = s.current_rv();
        s.create(&PODS, Some("ns"), json!({"metadata": {"name": "p"}}), true).unwrap();
        assert_eq!(s.current_rv(), rv);
        assert_eq!(s.get(&PODS, Some("ns"), "p").unwrap_err().code, 404);
    }

    #[test]
    fn stale_update_conflicts_and_noop_keeps_rv() {
        let s = store();
        let o = s.create(&PODS, Some("ns"), json!({"metadata": {"name": "p"}, "spec": {"a": 1}}), false).unwrap();
        let same = s.update(&PODS, Some("ns"), "p", o.clone(), UpdateMode::Main, false).unwrap();
        assert_eq!(same["metadata"]["resourceVersion"], o["metadata"]["resourceVersion"]);
        let mut changed = o.clone();
        changed["spec"]["a"] = json!(2);
        let n = s.update(&PODS, Some("ns"), "p", changed.clone(), UpdateMode::Main, false).unwrap();
        assert_eq!(n["metadata"]["generation"], 2);
        assert_eq!(s.update(&PODS, Some("ns"), "p", changed, UpdateMode::Main, false).unwrap_err().code, 409);
    }

    #[test]
    fn main_update_ignores_status_where_a_status_subresource_exists() {
        let s = store();
        let o = s.create(&VMIMS, Some("ns"), json!({"metadata": {"name": "m"}, "spec": {}}), false).unwrap();
        let mut w = o.clone();
        w["status"] = json!({"phase": "Running"});
        let n = s.update(&VMIMS, Some("ns"), "m", w.clone(), UpdateMode::Main, false).unwrap();
        assert!(n.get("status").is_none());
        let n = s.update(&VMIMS, Some("ns"), "m", w, UpdateMode::Status, false).unwrap();
        assert_eq!(n["status"]["phase"], "Running");
    }

    #[test]
    fn finalizers_hold_deletion_until_removed() {
        let s = store();
        s.create(&VMIMS, Some("ns"), json!({"metadata": {"name": "m", "finalizers": ["f"]}}), false).unwrap();
        let d = s.delete(&VMIMS, Some("ns"), "m", false).unwrap();
        assert!(d["metadata"]["deletionTimestamp"].is_string());
        assert!(s.get(&VMIMS, Some("ns"), "m").is_ok());
        s.modify(&VMIMS, Some("ns"), "m", |o| {
            o["metadata"]["finalizers"] = json!([]);
            Ok(())
        })
        .unwrap();
        assert_eq!(s.get(&VMIMS, Some("ns"), "m").unwrap_err().code, 404);
    }

    #[test]
    fn lists_at_a_past_version_undo_later_changes() {
        let s = store();
        s.create(&PODS, Some("ns"), json!({"metadata": {"name": "a"}, "spec": {"v": 1}}), false).unwrap();
        s.create(&PODS, Some("ns"), json!({"metadata": {"name": "b"}}), false).unwrap();
        let rv = s.current_rv();
        s.modify(&PODS, Some("ns"), "a", |o| {
            o["spec"]["v"] = json!(2);
            Ok(())
        })
        .unwrap();
        s.delete(&PODS, Some("ns"), "b", false).unwrap();
        s.create(&PODS, Some("ns"), json!({"metadata": {"name": "c"}}), false).unwrap();
        let then = s.list_at(&PODS, Some("ns"), rv).unwrap();
        let names: Vec<&str> = then.iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(then[0]["spec"]["v"], 1);
        assert_eq!(s.list_at(&PODS, Some("ns"), s.current_rv()).unwrap(), s.list(&PODS, Some("ns")).0);
        s.expire_history();
        assert_eq!(s.list_at(&PODS, Some("ns"), rv).unwrap_err().code, 410);
    }

    #[test]
    fn graceful_deletion_marks_first_and_deletes_later() {
        let s = store();
        s.create(&PODS, Some("ns"), json!({"metadata": {"name": "p"}}), false).unwrap();
        let d = s.delete_gracefully(&PODS, Some("ns"), "p", 30, false).unwrap();
        assert_eq!(d["metadata"]["deletionGracePeriodSeconds"], 30);
        assert!(d["metadata"]["deletionTimestamp"].as_str().unwrap() > s.clock().now_rfc3339().as_str());
        let again = s.delete_gracefully(&PODS, Some("ns"), "p", 30, false).unwrap();
        assert_eq!(again["metadata"]["resourceVersion"], d["metadata"]["resourceVersion"], "nothing changes");
        s.delete(&PODS, Some("ns"), "p", false).unwrap();
        assert_eq!(s.get(&PODS, Some("ns"), "p").unwrap_err().code, 404);
    }

    #[test]
    fn pages_copy_only_the_page_and_keep_their_snapshot() {
        let s = store();
        for i in 0..7 {
            s.create(&PODS, Some("ns"), json!({"metadata": {"name": format!("p{i}")}}), false).unwrap();
        }
        let all = |_: &Value| true;
        let names =
            |p: &Page| p.items.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        let first = s.list_page(&PODS, Some("ns"), None, None, &all, Some(3)).unwrap();
        assert_eq!((names(&first), first.remaining), (vec!["p0".into(), "p1".into(), "p2".into()], 4));
        let after = ("ns".to_string(), "p2".to_string());
        // Unchanged kind: served by a range scan from the continue key.
        let second = s.list_page(&PODS, Some("ns"), Some(first.rv), Some(&after), &all, Some(3)).unwrap();
        assert_eq!((names(&second), second.remaining), (vec!["p3".into(), "p4".into(), "p5".into()], 1));
        // A change after the snapshot: later pages still show the snapshot, not the change.
        s.delete(&PODS, Some("ns"), "p4", false).unwrap();
        s.create(&PODS, Some("ns"), json!({"metadata": {"name": "p35"}}), false).unwrap();
        let again = s.list_page(&PODS, Some("ns"), Some(first.rv), Some(&after), &all, Some(3)).unwrap();
        assert_eq!((names(&again), again.remaining), (vec!["p3".into(), "p4".into(), "p5".into()], 1));
        // The filter applies before the limit; other kinds and namespaces never show.
        let odd = |o: &Value| o["metadata"]["name"].as_str().is_some_and(|n| n.ends_with(['1', '3', '5']));
        let now = s.list_page(&PODS, Some("ns"), None, None, &odd, None).unwrap();
        assert_eq!(names(&now), ["p1", "p3", "p35", "p5"]);
        assert!(s.list_page(&VMIMS, Some("ns"), None, None, &all, None).unwrap().items.is_empty());
        s.expire_history();
        assert_eq!(s.list_page(&PODS, Some("ns"), Some(first.rv), Some(&after), &all, Some(3)).unwrap_err().code, 410);
    }

    #[test]
    fn watch_replays_history_and_expires() {
        let s = store();
        let rv0 = s.current_rv();
        s.create(&PODS, Some("ns"), json!({"metadata": {"name": "a"}}), false).unwrap();
        s.create(&PODS, Some("ns"), json!({"metadata": {"name": "b"}}), false).unwrap();
        let (backlog, _) = s.watch(&PODS, Some("ns"), Some(rv0)).unwrap();
        assert_eq!(backlog.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let (all, _) = s.watch(&PODS, None, None).unwrap();
        assert_eq!(all.len(), 2);
        let last = s.current_rv();
        s.expire_history();
        assert_eq!(s.watch(&PODS, Some("ns"), Some(rv0)).unwrap_err().code, 410);
        assert_eq!(s.watch(&PODS, Some("ns"), Some(last)).unwrap_err().code, 410, "even the last version");
        let (_, relist_rv) = s.list(&PODS, Some("ns"));
        assert!(s.watch(&PODS, Some("ns"), Some(relist_rv)).is_ok(), "a relist's version can be watched");
    }
}
