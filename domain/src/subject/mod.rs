//! One subject of personal data (docs/privacy.md): what the log records about the person
//! themselves, not about an auction. Its only command today is [`ForgetSubject`]; deciding it
//! twice decides no events the second time. The subject is named by their pseudonym and their
//! stream by their key id ([`events::SubjectId`]), so the stream itself names no one.
//!
//! Shape as the other aggregates': [`SubjectState`] and [`evolve`], one `decide_*` function,
//! and the store's [`events::Aggregate`].

use chrono::{DateTime, Utc};
use events::{Aggregate, SubjectEvent, SubjectForgotten, SubjectId, UserId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The version of [`SubjectState`]'s serialized form (snapshots).
pub const SNAPSHOT_FORMAT: u32 = 1;

/// What the log says of a subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectState {
    /// When they were forgotten; `None` while they are not.
    pub forgotten_at: Option<DateTime<Utc>>,
}

/// Forget the subject whose key is `subject_id` and whose pseudonym is `subject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgetSubject {
    pub subject_id: SubjectId,
    pub subject: UserId,
}

/// Why the subject refused a command. Nothing was changed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SubjectRejection {
    /// The pseudonym given is not the one of this subject's key (`subject:<subject id>`): a
    /// bug in the caller, which names the subject by its key. (500)
    #[error("{subject} is not the pseudonym of subject {subject_id}")]
    NotTheirPseudonym {
        subject_id: SubjectId,
        subject: UserId,
    },
}

impl SubjectRejection {
    /// The stable, machine-readable code (the `code` of an HTTP problem document).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotTheirPseudonym { .. } => "NOT_THEIR_PSEUDONYM",
        }
    }
}

/// The state after one more event.
pub fn evolve(state: SubjectState, event: &SubjectEvent) -> SubjectState {
    match event {
        SubjectEvent::SubjectForgotten(forgotten) => SubjectState {
            forgotten_at: state.forgotten_at.or(Some(forgotten.forgotten_at)),
        },
    }
}

/// The tombstone, unless the subject was forgotten already (then no events: a forget retried
/// after the key was deleted, or asked twice, changes nothing).
pub fn decide_forget(
    state: &SubjectState,
    command: &ForgetSubject,
    now: DateTime<Utc>,
) -> Result<Vec<SubjectEvent>, SubjectRejection> {
    if command.subject.as_str() != format!("subject:{}", command.subject_id) {
        return Err(SubjectRejection::NotTheirPseudonym {
            subject_id: command.subject_id,
            subject: command.subject.clone(),
        });
    }
    if state.forgotten_at.is_some() {
        return Ok(Vec::new());
    }
    Ok(vec![SubjectEvent::SubjectForgotten(SubjectForgotten {
        subject_id: command.subject_id,
        subject: command.subject.clone(),
        forgotten_at: now,
    })])
}

impl Aggregate for SubjectState {
    type Event = SubjectEvent;
    type Id = SubjectId;
    type Rejection = SubjectRejection;
    type Codec = SubjectEvent;

    const SNAPSHOT_FORMAT: u32 = SNAPSHOT_FORMAT;

    fn evolve(self, event: &SubjectEvent) -> Self {
        evolve(self, event)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::testing::{Given, SubjectAggregate};

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
    }

    fn forget(id: u128) -> ForgetSubject {
        let subject_id = SubjectId(Uuid::from_u128(id));
        ForgetSubject {
            subject_id,
            subject: UserId::try_from(format!("subject:{subject_id}")).unwrap(),
        }
    }

    #[test]
    fn given_a_subject_never_forgotten_when_forgotten_then_the_tombstone_names_their_pseudonym() {
        let command = forget(7);
        Given::<SubjectAggregate>::no_events()
            .at(noon())
            .when(decide_forget, &command)
            .then_expect_events([SubjectEvent::SubjectForgotten(SubjectForgotten {
                subject_id: command.subject_id,
                subject: command.subject.clone(),
                forgotten_at: noon(),
            })]);
    }

    #[test]
    fn given_a_forgotten_subject_when_forgotten_again_then_nothing_more_is_recorded() {
        let command = forget(7);
        let first = decide_forget(&SubjectState::default(), &command, noon()).unwrap();
        Given::<SubjectAggregate>::events(first)
            .at(noon())
            .when(decide_forget, &command)
            .then_expect_no_events();
    }

    #[test]
    fn given_another_subjects_pseudonym_when_forgotten_then_it_is_refused() {
        let mut command = forget(7);
        command.subject = forget(8).subject;
        Given::<SubjectAggregate>::no_events()
            .at(noon())
            .when(decide_forget, &command)
            .then_expect_rejection(SubjectRejection::NotTheirPseudonym {
                subject_id: command.subject_id,
                subject: command.subject.clone(),
            });
    }
}
