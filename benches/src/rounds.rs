//! Several rounds of the same benchmarks, and two commits compared round by round. On a 2-core
//! machine one run's tail latencies swing by tens of percent, so one run against an old report
//! says little about a change; the median of a few rounds, with the baseline commit's rounds
//! interleaved with the candidate's, says what the change did. Pure functions over recorded
//! figures, like the report.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::report::{Recorded, ratio};
use crate::{Better, Figure};

/// How much worse than the baseline commit a figure's median ratio may be before the
/// comparison calls it worse: the threshold the project's issues use.
pub const WORSE_BEYOND: f64 = 0.10;

/// The round whose ratio is the median, figure by figure, in the order of the first round.
/// With an even number of rounds the worse of the two middle ones is kept, so that a report
/// never flatters. Knobs are those of the first round (every round runs with the same).
pub fn median_round(rounds: &[Recorded]) -> Recorded {
    let Some(first) = rounds.first() else {
        return Recorded::default();
    };
    let figures = first
        .figures
        .iter()
        .filter_map(|figure| {
            let mut same = matching(rounds, figure);
            same.sort_by(|a, b| worse_first(a, b));
            let middle = same.len() / 2;
            same.get(middle.min(same.len().saturating_sub(1)))
                .map(|f| (*f).clone())
        })
        .collect();
    Recorded {
        figures,
        knobs: first.knobs.clone(),
    }
}

/// A figure's ratios over the rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    pub rounds: usize,
}

/// One figure of the candidate beside the same figure of the baseline commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub bench: String,
    pub figure: String,
    pub better: Better,
    pub baseline: Option<Spread>,
    pub candidate: Option<Spread>,
}

impl Comparison {
    /// How much worse the candidate's median ratio is than the baseline's, as a fraction
    /// (0.12 = 12 % worse; negative = better), whichever way the figure improves. `None` when
    /// either side has no ratio.
    pub fn worse_by(&self) -> Option<f64> {
        let (baseline, candidate) = (self.baseline?.median, self.candidate?.median);
        if baseline == 0.0 {
            return None;
        }
        Some(match self.better {
            Better::Lower => candidate / baseline - 1.0,
            Better::Higher => 1.0 - candidate / baseline,
        })
    }

    pub fn is_worse(&self) -> bool {
        self.worse_by().is_some_and(|w| w > WORSE_BEYOND)
    }
}

/// Every figure either side recorded, candidate's order first, with the spread of its ratio
/// on each side. A figure one side lacks is listed with that side empty, never dropped.
pub fn compare(baseline: &[Recorded], candidate: &[Recorded]) -> Vec<Comparison> {
    let mut keys: Vec<(&str, &str, Better)> = Vec::new();
    for figure in candidate
        .iter()
        .chain(baseline)
        .flat_map(|round| &round.figures)
    {
        if !keys
            .iter()
            .any(|(b, f, _)| *b == figure.bench && *f == figure.figure)
        {
            keys.push((&figure.bench, &figure.figure, figure.better));
        }
    }
    keys.into_iter()
        .map(|(bench, figure, better)| Comparison {
            bench: bench.to_owned(),
            figure: figure.to_owned(),
            better,
            baseline: spread(baseline, bench, figure),
            candidate: spread(candidate, bench, figure),
        })
        .collect()
}

/// The comparison as a report section: each figure's median ratio (and range) on both commits,
/// and the verdict against [`WORSE_BEYOND`].
pub fn markdown(comparisons: &[Comparison], baseline: &str, candidate: &str) -> String {
    let mut out = String::new();
    let rounds = comparisons
        .iter()
        .filter_map(|c| c.candidate.map(|s| s.rounds))
        .max()
        .unwrap_or(0);
    let worse: Vec<&Comparison> = comparisons.iter().filter(|c| c.is_worse()).collect();
    let _ = writeln!(out, "## Against commit {baseline}\n");
    let _ = writeln!(
        out,
        "The same benchmarks, built from commit {baseline} and from {candidate}, run in \
         alternation ({rounds} rounds each, ABBA order, on the same emulators). Each cell is the \
         median of the rounds' ratios (figure / same-run baseline) with their range; \
         **worse** marks a median more than {:.0} % worse than {baseline}'s. {}\n",
        WORSE_BEYOND * 100.0,
        if worse.is_empty() {
            "No figure is.".to_owned()
        } else {
            format!("{} of {} figures are.", worse.len(), comparisons.len())
        }
    );
    let _ = writeln!(
        out,
        "| bench | figure | {baseline} | {candidate} | change | better is |\n\
         | --- | --- | ---: | ---: | ---: | --- |"
    );
    for c in comparisons {
        let change = match c.worse_by() {
            Some(w) if c.is_worse() => format!("**{:.0} % worse**", w * 100.0),
            Some(w) if w > 0.0 => format!("{:.0} % worse", w * 100.0),
            Some(w) => format!("{:.0} % better", -w * 100.0),
            None => "n/a".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            c.bench,
            c.figure.replace('|', "\\|"),
            shown(c.baseline),
            shown(c.candidate),
            change,
            match c.better {
                Better::Lower => "lower",
                Better::Higher => "higher",
            }
        );
    }
    let _ = writeln!(out);
    out
}

fn shown(spread: Option<Spread>) -> String {
    spread.map_or("not recorded".to_owned(), |s| {
        format!(
            "{} ({}–{})",
            ratio_text(s.median),
            ratio_text(s.low),
            ratio_text(s.high)
        )
    })
}

fn ratio_text(ratio: f64) -> String {
    if ratio >= 0.1 {
        format!("{ratio:.2}x")
    } else {
        format!("{ratio:.2e}x")
    }
}

fn spread(rounds: &[Recorded], bench: &str, figure: &str) -> Option<Spread> {
    let mut ratios: Vec<f64> = rounds
        .iter()
        .flat_map(|round| &round.figures)
        .filter(|f| f.bench == bench && f.figure == figure)
        .filter_map(ratio)
        .collect();
    ratios.sort_by(f64::total_cmp);
    let (low, high) = (*ratios.first()?, *ratios.last()?);
    let better = rounds
        .iter()
        .flat_map(|round| &round.figures)
        .find(|f| f.bench == bench && f.figure == figure)?
        .better;
    // The worse middle for an even count, as in `median_round`.
    let n = ratios.len();
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        match better {
            Better::Lower => ratios[n / 2],
            Better::Higher => ratios[n / 2 - 1],
        }
    };
    Some(Spread {
        median,
        low,
        high,
        rounds: n,
    })
}

fn matching<'a>(rounds: &'a [Recorded], figure: &Figure) -> Vec<&'a Figure> {
    rounds
        .iter()
        .flat_map(|round| &round.figures)
        .filter(|f| f.bench == figure.bench && f.figure == figure.figure)
        .collect()
}

/// Best ratio first, so that the upper middle of an even count is the worse one.
fn worse_first(a: &Figure, b: &Figure) -> Ordering {
    let (ra, rb) = (ratio(a).unwrap_or(f64::NAN), ratio(b).unwrap_or(f64::NAN));
    match a.better {
        Better::Lower => ra.total_cmp(&rb),
        Better::Higher => rb.total_cmp(&ra),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Baseline;

    fn figure(name: &str, value: f64, baseline: f64, better: Better) -> Figure {
        Figure {
            bench: "store".to_owned(),
            figure: name.to_owned(),
            value,
            unit: "ms".to_owned(),
            baseline: Baseline {
                name: "raw".to_owned(),
                value: baseline,
                unit: "ms".to_owned(),
            },
            better,
        }
    }

    fn round(figures: Vec<Figure>) -> Recorded {
        Recorded {
            figures,
            knobs: Vec::new(),
        }
    }

    #[test]
    fn given_three_rounds_when_the_median_round_is_taken_then_each_figure_is_its_middle_ratio() {
        let rounds = [
            round(vec![figure("p95", 30.0, 10.0, Better::Lower)]),
            round(vec![figure("p95", 12.0, 10.0, Better::Lower)]),
            round(vec![figure("p95", 20.0, 10.0, Better::Lower)]),
        ];

        let median = median_round(&rounds);

        assert_eq!(
            median.figures,
            vec![figure("p95", 20.0, 10.0, Better::Lower)]
        );
    }

    #[test]
    fn given_two_rounds_when_the_median_is_taken_then_the_worse_middle_is_kept_either_way() {
        let lower = [
            round(vec![figure("p95", 11.0, 10.0, Better::Lower)]),
            round(vec![figure("p95", 15.0, 10.0, Better::Lower)]),
        ];
        let higher = [
            round(vec![figure("rate", 9.0, 10.0, Better::Higher)]),
            round(vec![figure("rate", 6.0, 10.0, Better::Higher)]),
        ];

        assert_eq!(median_round(&lower).figures[0].value, 15.0);
        assert_eq!(median_round(&higher).figures[0].value, 6.0);
        assert_eq!(
            compare(&[], &lower)[0].candidate.map(|s| s.median),
            Some(1.5)
        );
        assert_eq!(
            compare(&[], &higher)[0].candidate.map(|s| s.median),
            Some(0.6)
        );
    }

    #[test]
    fn given_a_candidate_eleven_percent_slower_when_compared_then_it_is_worse() {
        let baseline = [round(vec![figure("p95", 20.0, 10.0, Better::Lower)])];
        let candidate = [round(vec![figure("p95", 22.2, 10.0, Better::Lower)])];

        let comparison = &compare(&baseline, &candidate)[0];

        assert!(comparison.is_worse(), "{comparison:?}");
        let text = markdown(&compare(&baseline, &candidate), "abc", "def");
        assert!(text.contains("**11 % worse**"), "{text}");
        assert!(text.contains("1 of 1 figures are."), "{text}");
    }

    #[test]
    fn given_a_rate_nine_percent_lower_when_compared_then_it_is_within_the_threshold() {
        let baseline = [round(vec![figure("rate", 6.0, 10.0, Better::Higher)])];
        let candidate = [round(vec![figure("rate", 5.46, 10.0, Better::Higher)])];

        let comparison = &compare(&baseline, &candidate)[0];

        assert!(!comparison.is_worse(), "{comparison:?}");
        assert!((comparison.worse_by().unwrap_or(0.0) - 0.09).abs() < 1e-9);
    }

    #[test]
    fn given_a_rate_twenty_percent_lower_when_compared_then_it_is_worse() {
        let baseline = [round(vec![figure("rate", 6.0, 10.0, Better::Higher)])];
        let candidate = [round(vec![figure("rate", 4.8, 10.0, Better::Higher)])];

        assert!(compare(&baseline, &candidate)[0].is_worse());
    }

    #[test]
    fn given_a_figure_only_one_commit_records_when_compared_then_it_is_listed_with_a_gap() {
        let baseline = [round(vec![figure("old", 1.0, 1.0, Better::Lower)])];
        let candidate = [round(vec![figure("new", 1.0, 1.0, Better::Lower)])];

        let comparisons = compare(&baseline, &candidate);

        assert_eq!(comparisons.len(), 2);
        assert_eq!(comparisons[0].figure, "new");
        assert!(comparisons[0].baseline.is_none());
        assert!(comparisons[1].candidate.is_none());
        assert!(markdown(&comparisons, "a", "b").contains("not recorded"));
    }
}
