//! What a run reports: what it repaired, by kind, and what it could not do.

/// What a repair was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A sale in the log without a payment saga: its event went to the payment saga again.
    MissingSaga,
    /// A saga running or compensating past its deadline: the event that started it went to
    /// the payment saga again, which continues from the saga's stored state.
    StalledSaga,
    /// The auction's view missing, or at a version below the log's: the events it lacks went
    /// to the projector again.
    ViewBehind,
    /// Notices of an ended auction missing from an inbox: the `AuctionEnded` went to the
    /// notifier again.
    MissingNotices,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingSaga => "missing-saga",
            Self::StalledSaga => "stalled-saga",
            Self::ViewBehind => "view-behind",
            Self::MissingNotices => "missing-notices",
        }
    }
}

/// What one run found and did (the Lambda's answer, as JSON).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    /// Index entries read.
    pub events_read: usize,
    /// Auctions checked.
    pub auctions: usize,
    pub missing_sagas: usize,
    pub stalled_sagas: usize,
    pub views_behind: usize,
    pub missing_notices: usize,
    /// Items in the Parked table when the run listed it (every consumer's).
    pub parked: usize,
    /// Parked items replayed and removed by this run.
    pub replayed: usize,
    /// Parked items whose consumer failed the replay: each stays parked with one more failed
    /// replay, and a later run replays it again. Not counted in `failed`: the outage that
    /// parked it may simply not be over (docs/reconciler.md).
    pub replays_failed: usize,
    /// Parked items the run did not replay because a person has to: their replays failed
    /// `RECONCILE_MAX_REPLAYS` times, or their consumer is one this build does not know.
    pub left_for_a_person: usize,
    /// Checks, repairs or replays that failed (each logged), or the Parked table that could
    /// not be listed; the next run does them again.
    pub failed: usize,
}

impl Reconciled {
    /// Repairs of `kind` this run made.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::MissingSaga => self.missing_sagas,
            Kind::StalledSaga => self.stalled_sagas,
            Kind::ViewBehind => self.views_behind,
            Kind::MissingNotices => self.missing_notices,
        }
    }

    /// Every repair this run made.
    pub fn repairs(&self) -> usize {
        self.missing_sagas + self.stalled_sagas + self.views_behind + self.missing_notices
    }

    pub(crate) fn repaired(&mut self, kind: Kind) {
        match kind {
            Kind::MissingSaga => self.missing_sagas += 1,
            Kind::StalledSaga => self.stalled_sagas += 1,
            Kind::ViewBehind => self.views_behind += 1,
            Kind::MissingNotices => self.missing_notices += 1,
        }
    }

    pub(crate) fn add(&mut self, other: &Reconciled) {
        self.events_read += other.events_read;
        self.auctions += other.auctions;
        self.missing_sagas += other.missing_sagas;
        self.stalled_sagas += other.stalled_sagas;
        self.views_behind += other.views_behind;
        self.missing_notices += other.missing_notices;
        self.parked += other.parked;
        self.replayed += other.replayed;
        self.replays_failed += other.replays_failed;
        self.left_for_a_person += other.left_for_a_person;
        self.failed += other.failed;
    }
}
