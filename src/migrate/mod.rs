//! `kubectl vmmigrate run`: create the VMIM, follow it to its end, abort on interrupt.
