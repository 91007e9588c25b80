//! A generic Kubernetes API server: resources, store, errors and the HTTP layer. Knows nothing of KubeVirt;
//! KubeVirt behaviour plugs in through [`hooks`].

pub mod access;
pub mod audit;
pub mod discovery;
pub mod error;
pub mod exec;
pub mod faults;
pub mod fields;
pub mod hooks;
pub mod kubeconfig;
pub mod kubelet;
pub mod logs;
pub mod patch;
pub mod pods;
pub mod query;
pub mod resources;
pub mod rest;
pub mod server;
pub mod store;
pub mod table;
pub mod watch;

pub use error::ApiError;
pub use store::{EventType, Store, StoreEvent, UpdateMode};
