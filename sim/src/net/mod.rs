//! The network model: reachability of IPs over time, and the probe tools emulated against it.
