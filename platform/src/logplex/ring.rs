//! [`Ring`]: one app's bounded buffer of log lines, each with the next id of the app's stream.
//! The oldest line falls off when it is full; a reader that was behind learns how many it missed,
//! counting what the reports among them stood for (a line saying N messages were lost upstream
//! counts N, so a count is never lost with the line that carried it).

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{LogLine, Source};

/// The last `capacity` lines of one app, ids `first_id()..next_id`.
#[derive(Debug)]
pub struct Ring {
    lines: VecDeque<Arc<LogLine>>,
    capacity: usize,
    /// The id the next line gets (ids start at 1).
    next_id: u64,
    /// The reports of lost messages among the lines, held and fallen off (the last
    /// [`REPORTS_KEPT`]): `(id, messages it stands for)`, oldest first.
    reports: VecDeque<(u64, u64)>,
}

/// How many reports a ring remembers: a reader further behind than that many reports is told
/// fewer lost messages than there were.
const REPORTS_KEPT: usize = 4096;

/// What a reader gets after its cursor: how many lines it lost, and the lines still there.
#[derive(Debug, Default)]
pub struct Read {
    /// Lines after the cursor that fell off the buffer before they were read.
    pub dropped: u64,
    /// The lines after the cursor (and after the dropped ones), oldest first.
    pub lines: Vec<Arc<LogLine>>,
}

impl Ring {
    /// An empty ring holding up to `capacity` lines (at least one).
    pub fn new(capacity: usize) -> Ring {
        Ring { lines: VecDeque::new(), capacity: capacity.max(1), next_id: 1, reports: VecDeque::new() }
    }

    /// Appends a line made of these parts, giving it the next id; drops the oldest when full,
    /// and the new line takes over the oldest one's allocations when no reader holds it (most
    /// of the time): a full ring's lines, one a request for the router's, cost no allocation
    /// or free (1.5% of the server's CPU under load, much of it freeing on another thread what
    /// one thread allocated). Returns the id.
    pub fn push_parts(&mut self, source: Source, process: &str, timestamp: DateTime<Utc>, text: &str) -> u64 {
        if self.lines.len() == self.capacity
            && let Some(mut oldest) = self.lines.pop_front()
            && let Some(line) = Arc::get_mut(&mut oldest)
        {
            let id = self.next_id;
            self.next_id += 1;
            line.id = id;
            line.timestamp = timestamp;
            line.source = source;
            refill(&mut line.process, process);
            refill(&mut line.text, text);
            self.lines.push_back(oldest);
            return id;
        }
        self.push(LogLine::new(source, process, timestamp, text))
    }

    /// Appends a line, giving it the next id; drops the oldest when full. Returns the id.
    pub fn push(&mut self, mut line: LogLine) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        line.id = id;
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(Arc::new(line));
        id
    }

    /// Appends `line`, a report that `messages` were lost before reaching the ring: a reader who
    /// misses the line is told of them in its count of dropped lines. Returns the id.
    pub fn push_report(&mut self, line: LogLine, messages: u64) -> u64 {
        let id = self.push(line);
        if self.reports.len() == REPORTS_KEPT {
            self.reports.pop_front();
        }
        self.reports.push_back((id, messages));
        id
    }

    /// The id of the newest line (0: none yet).
    pub fn last_id(&self) -> u64 {
        self.next_id - 1
    }

    /// The id of the oldest line still held (`next_id` when empty).
    pub fn first_id(&self) -> u64 {
        self.lines.front().map_or(self.next_id, |line| line.id)
    }

    /// The lines with ids after `after`, at most `max` of them (the oldest first), and how many
    /// lines after `after` are gone. An `after` beyond the newest id reads nothing.
    pub fn read_after(&self, after: u64, max: usize) -> Read {
        let first = self.first_id();
        let mut dropped = first.saturating_sub(after.saturating_add(1));
        if dropped > 0 {
            // A report that fell off stands for its messages, not for one line.
            let missed = self.reports.iter().filter(|(id, _)| *id > after && *id < first);
            dropped += missed.map(|(_, messages)| messages.saturating_sub(1)).sum::<u64>();
        }
        let start = after.saturating_add(1).max(first);
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        let lines = self.lines.iter().skip(skip).take(max).cloned().collect();
        Read { dropped, lines }
    }

    /// The newest `n` lines that `keep` accepts, oldest first.
    pub fn tail(&self, n: usize, keep: impl Fn(&LogLine) -> bool) -> Vec<Arc<LogLine>> {
        let mut lines: Vec<_> = self.lines.iter().rev().filter(|l| keep(l)).take(n).cloned().collect();
        lines.reverse();
        lines
    }
}

/// `to` holding `text`, in its own buffer unless that is more than four times the room needed
/// (a slot that once held a long line does not keep its size).
fn refill(to: &mut String, text: &str) {
    if to.capacity() > text.len().max(64) * 4 {
        *to = text.to_string();
    } else {
        to.clear();
        to.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> LogLine {
        LogLine::new(Source::App, "web.1", chrono::Utc::now(), text)
    }

    #[test]
    fn ids_increase_and_the_oldest_fall_off() {
        let mut ring = Ring::new(3);
        for n in 1..=5 {
            assert_eq!(ring.push(line(&n.to_string())), n);
        }
        assert_eq!((ring.first_id(), ring.last_id()), (3, 5));
        let read = ring.read_after(0, 10);
        assert_eq!(read.dropped, 2);
        assert_eq!(read.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["3", "4", "5"]);
        let read = ring.read_after(3, 10);
        assert_eq!((read.dropped, read.lines.len()), (0, 2));
        assert_eq!(ring.read_after(5, 10).lines.len(), 0);
        assert_eq!(ring.read_after(99, 10).dropped, 0);
        assert_eq!(ring.tail(2, |_| true).iter().map(|l| l.id).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn a_full_ring_reuses_its_oldest_line_unless_a_reader_holds_it() {
        let mut ring = Ring::new(2);
        let at = chrono::Utc::now();
        let newest = |ring: &Ring| ring.tail(1, |_| true).pop().unwrap();
        ring.push_parts(Source::App, "web.1", at, &"a".repeat(200));
        ring.push_parts(Source::App, "web.1", at, &"b".repeat(100));
        // A reused line keeps its text's buffer (a new one would be made to measure).
        assert_eq!(ring.push_parts(Source::Paas, "router", at, "three"), 3);
        let line = newest(&ring);
        assert_eq!((line.id, line.source, line.process.as_str(), line.text.as_str()), (3, Source::Paas, "router", "three"));
        assert_eq!(line.text.capacity(), 200, "line 1's buffer");
        drop(line);
        let held = ring.read_after(1, 1).lines;
        ring.push_parts(Source::App, "web.1", at, "four");
        assert_eq!(held[0].text, "b".repeat(100), "a line a reader holds is left as it was");
        assert_eq!(newest(&ring).text.capacity(), 4, "made anew");
        ring.push_parts(Source::App, "web.1", at, "five");
        assert_eq!(newest(&ring).text.capacity(), 200, "line 3's buffer, nobody holding it");
        let texts: Vec<_> = ring.read_after(0, 10).lines.iter().map(|l| (l.id, l.text.clone())).collect();
        assert_eq!(texts, [(4, "four".to_string()), (5, "five".to_string())]);
        // A slot that held a long line does not keep its size for short ones.
        let mut ring = Ring::new(1);
        ring.push_parts(Source::App, "web.1", at, &"x".repeat(10_000));
        ring.push_parts(Source::App, "web.1", at, "short");
        assert!(newest(&ring).text.capacity() < 1000);
    }

    #[test]
    fn regression_a_report_that_fell_off_still_counts_the_messages_it_stood_for() {
        // A `-d web.1` tail saw 53,191 burst lines and was told of 43,516 dropped: the runtime's
        // report of 3,296 lines lost upstream had fallen off the ring and counted as one.
        let mut ring = Ring::new(3);
        ring.push(line("1"));
        ring.push_report(line("Error L10 (output buffer overflow): 40 messages dropped"), 40);
        for n in 3..=6 {
            ring.push(line(&n.to_string()));
        }
        assert_eq!(ring.read_after(0, 10).dropped, 2 + 40, "lines 1 and 3, and the report's 40");
        assert_eq!(ring.read_after(2, 10).dropped, 1);
        let mut ring = Ring::new(10);
        ring.push_report(line("lost"), 7);
        assert_eq!(ring.read_after(0, 10).dropped, 0, "a report read is shown, not counted");
    }
}
