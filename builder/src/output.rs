//! Where build output goes, line by line as it arrives: the [`OutputSink`] trait and the
//! Heroku-style formatting helpers (`-----> Step`, `       detail`, ` !     error`).

use std::sync::Mutex;

/// Receives build output one line at a time (without the trailing newline).
pub trait OutputSink: Send + Sync {
    /// One line of output.
    fn line(&self, line: &str);

    /// A step header: `-----> {text}`.
    fn step(&self, text: &str) {
        self.line(&format!("-----> {text}"));
    }

    /// A detail under a step: seven spaces of indentation.
    fn detail(&self, text: &str) {
        self.line(&format!("       {text}"));
    }

    /// An error: ` !     {text}`.
    fn error(&self, text: &str) {
        self.line(&format!(" !     {text}"));
    }
}

impl OutputSink for tokio::sync::mpsc::UnboundedSender<String> {
    fn line(&self, line: &str) {
        let _ = self.send(line.to_string());
    }
}

/// Keeps every line in memory: for tests and for storing a build's output.
#[derive(Debug, Default)]
pub struct CollectOutput(Mutex<Vec<String>>);

impl CollectOutput {
    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("output lock").clone()
    }

    /// The lines so far joined with newlines.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }
}

impl OutputSink for CollectOutput {
    fn line(&self, line: &str) {
        self.0.lock().expect("output lock").push(line.to_string());
    }
}

/// Forwards to two sinks (e.g. the pusher and the stored build output).
pub struct Tee<'a>(pub &'a dyn OutputSink, pub &'a dyn OutputSink);

impl OutputSink for Tee<'_> {
    fn line(&self, line: &str) {
        self.0.line(line);
        self.1.line(line);
    }
}
