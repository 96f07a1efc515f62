//! What a rebuild reports while it runs: its phase and counters, and the one line a person
//! watches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which phase a rebuild is in, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Creating = 0,
    Scanning = 1,
    Rereading = 2,
    CatchingUp = 3,
    Switching = 4,
    Grace = 5,
    Done = 6,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Creating,
            1 => Self::Scanning,
            2 => Self::Rereading,
            3 => Self::CatchingUp,
            4 => Self::Switching,
            5 => Self::Grace,
            _ => Self::Done,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Creating => "creating tables",
            Self::Scanning => "scanning",
            Self::Rereading => "rereading",
            Self::CatchingUp => "catching up",
            Self::Switching => "switching",
            Self::Grace => "grace",
            Self::Done => "done",
        }
    }
}

/// Counters a rebuild updates as it goes; a reporter reads them from another task.
#[derive(Debug, Default)]
pub struct Progress {
    phase: std::sync::atomic::AtomicU8,
    /// DescribeTable's ItemCount of the Events table: an estimate (AWS refreshes it about
    /// every six hours).
    pub estimated: AtomicU64,
    pub scanned: AtomicU64,
    pub written: AtomicU64,
    pub caught_up: AtomicU64,
    /// When the Scan began and, once done, ended: the rate counts the bulk load only.
    scan_window: std::sync::Mutex<(Option<Instant>, Option<Instant>)>,
}

impl Progress {
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    pub(super) fn enter(&self, phase: Phase) {
        if let Ok(mut window) = self.scan_window.lock() {
            let now = Instant::now();
            match (phase, *window) {
                (Phase::Scanning, (None, _)) => window.0 = Some(now),
                (Phase::Scanning, _) => {}
                (_, (Some(_), None)) => window.1 = Some(now),
                _ => {}
            }
        }
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// How long the Scan has run (or ran, once it is done).
    pub fn scanning_for(&self) -> Duration {
        match self.scan_window.lock().map(|window| *window) {
            Ok((Some(start), Some(end))) => end.duration_since(start),
            Ok((Some(start), None)) => start.elapsed(),
            _ => Duration::ZERO,
        }
    }

    /// [`Progress::line_after`] the Scan's own time so far.
    pub fn line(&self) -> String {
        self.line_after(self.scanning_for())
    }

    /// One line: the phase, events scanned of the estimate, the rate over `scanning_for` and
    /// the time left at that rate.
    pub fn line_after(&self, scanning_for: Duration) -> String {
        let phase = self.phase();
        let scanned = self.scanned.load(Ordering::Relaxed);
        let estimated = self.estimated.load(Ordering::Relaxed).max(scanned);
        let written = self.written.load(Ordering::Relaxed);
        let seconds = scanning_for.as_secs_f64();
        let rate = if seconds > 0.0 {
            scanned as f64 / seconds
        } else {
            0.0
        };
        let mut line = format!(
            "{:<15} {} / ~{} events",
            phase.label(),
            thousands(scanned),
            thousands(estimated)
        );
        if let Some(percent) = scanned.saturating_mul(100).checked_div(estimated) {
            line.push_str(&format!(" {:>3}%", percent.min(100)));
        }
        line.push_str(&format!(
            "  {} events/s  {} items written",
            thousands(rate as u64),
            thousands(written)
        ));
        if phase == Phase::Scanning && rate > 0.0 {
            let left = estimated.saturating_sub(scanned) as f64 / rate;
            line.push_str(&format!("  ETA {}", clock(Duration::from_secs_f64(left))));
        }
        let caught_up = self.caught_up.load(Ordering::Relaxed);
        if caught_up > 0 {
            line.push_str(&format!("  {} stream records", thousands(caught_up)));
        }
        line
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn clock(duration: Duration) -> String {
    let secs = duration.as_secs();
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_shows_the_share_the_rate_and_the_time_left() {
        let progress = Progress::default();
        progress.enter(Phase::Scanning);
        progress.estimated.store(1_000_000, Ordering::Relaxed);
        progress.scanned.store(250_000, Ordering::Relaxed);
        progress.written.store(45_000, Ordering::Relaxed);

        let line = progress.line_after(Duration::from_secs(10));

        assert!(line.starts_with("scanning"), "{line}");
        assert!(line.contains("250,000 / ~1,000,000 events  25%"), "{line}");
        assert!(line.contains("25,000 events/s"), "{line}");
        assert!(line.contains("45,000 items written"), "{line}");
        assert!(line.contains("ETA 0:00:30"), "{line}");
    }

    #[test]
    fn the_estimate_never_falls_below_what_was_scanned() {
        let progress = Progress::default();
        progress.enter(Phase::CatchingUp);
        progress.estimated.store(10, Ordering::Relaxed);
        progress.scanned.store(12, Ordering::Relaxed);

        let line = progress.line_after(Duration::from_secs(1));

        assert!(line.contains("12 / ~12 events 100%"), "{line}");
        assert!(!line.contains("ETA"), "{line}");
    }
}
