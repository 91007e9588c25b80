//! A generic Kubernetes API server: resources, store, errors and the HTTP layer. Knows nothing of KubeVirt;
//! KubeVirt behaviour plugs in through [`hooks`].

pub mod error;
pub mod faults;
pub mod hooks;
pub mod resources;
pub mod store;

pub use error::ApiError;
pub use store::{EventType, Store, StoreEvent, UpdateMode};
