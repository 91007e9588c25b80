//! `kubectl vmmigrate run | cancel | status`: create the VMIM, follow it by watch to its real end with honest
//! progress, abort on interrupt.
//!
//! Pure core: [`progress`] (virt-launcher log parser), [`stuck`] (stuck-detection rules), [`state`] (the
//! follower state machine and the result contract). Thin shell: the kube calls and the event loop.

pub mod progress;
pub mod state;
pub mod stuck;
