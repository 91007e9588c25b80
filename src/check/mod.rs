//! `kubectl vmmigrate check`: every live-migration prerequisite at once.
