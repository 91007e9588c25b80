//! Scenarios: the built-in `haos` cluster, the scenario file format and the generator.
