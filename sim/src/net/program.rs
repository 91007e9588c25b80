//! An emulated process as a pure timeline: given the simulated instant up to which output is due and a reachability
//! oracle for its target, it yields its output lines in order. The exec shell ([`super::tools`]) drives it against
//! the sim clock; tests drive it directly.

use super::model::Micros;

/// One piece of output of an emulated process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Emit {
    /// Text written to stdout (whole lines, with their `\n`).
    Out(String),
    /// Text written to stderr.
    Err(String),
    /// The exit code; always last.
    Exit(i32),
}

/// Whether the target answers a request sent at an instant: `Some(rtt µs)` when it does.
pub type Reach<'a> = dyn FnMut(Micros) -> Option<u32> + 'a;

/// An emulated process.
pub trait Program: Send {
    /// Output due at or before `upto` (simulated µs since the epoch), in order; ends with [`Emit::Exit`] once.
    fn advance(&mut self, upto: Micros, reach: &mut Reach<'_>) -> Vec<Emit>;
    /// The instant of its next output, or `None` once it has exited.
    fn next_due(&self) -> Option<Micros>;
}

/// A process whose whole output is known at start (a usage error, the tool check, ...): printed at `at`.
pub struct Fixed {
    at: Micros,
    out: Vec<Emit>,
    done: bool,
}

impl Fixed {
    pub fn new(at: Micros, mut out: Vec<Emit>, code: i32) -> Self {
        out.push(Emit::Exit(code));
        Self { at, out, done: false }
    }
}

impl Program for Fixed {
    fn advance(&mut self, upto: Micros, _reach: &mut Reach<'_>) -> Vec<Emit> {
        if self.done || upto < self.at {
            return Vec::new();
        }
        self.done = true;
        std::mem::take(&mut self.out)
    }

    fn next_due(&self) -> Option<Micros> {
        (!self.done).then_some(self.at)
    }
}

/// Runs a program to its end, for tests and for callers that need the whole output at once.
pub fn run_to_end(program: &mut dyn Program, reach: &mut Reach<'_>) -> Vec<Emit> {
    let mut all = Vec::new();
    while let Some(t) = program.next_due() {
        all.extend(program.advance(t, reach));
    }
    all
}

/// The stdout text and exit code of a whole run (stderr interleaved when `with_stderr`).
pub fn collect(emits: &[Emit], with_stderr: bool) -> (String, Option<i32>) {
    let mut text = String::new();
    let mut code = None;
    for e in emits {
        match e {
            Emit::Out(s) => text.push_str(s),
            Emit::Err(s) if with_stderr => text.push_str(s),
            Emit::Err(_) => {}
            Emit::Exit(c) => code = Some(*c),
        }
    }
    (text, code)
}
