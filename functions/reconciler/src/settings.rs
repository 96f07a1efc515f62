//! How far back a run looks, how long it lets the platform catch up before calling something
//! missing, and when it replays a parked item on its own. (How often it runs is its schedule's:
//! the CDK app's rule, locally `local-triggers`, which reads `RECONCILE_INTERVAL_SECONDS`.)
//! docs/reconciler.md explains the defaults.

use chrono::TimeDelta;

use crate::error::ReconcilerError;

/// The longest lookback allowed. A sale found without a saga is settled from its start again,
/// every step under the key it had the first time; that takes no second effect only while the
/// provider still honours those keys (Stripe keeps them for 24 hours) and the event store its
/// idempotency records (48 hours).
pub const MAX_LOOKBACK: TimeDelta = TimeDelta::hours(24);

/// The variables, each overriding one default.
pub const LOOKBACK_ENV: &str = "RECONCILE_LOOKBACK_SECONDS";
pub const GRACE_ENV: &str = "RECONCILE_GRACE_SECONDS";
pub const SAGA_DEADLINE_ENV: &str = "RECONCILE_SAGA_DEADLINE_SECONDS";
pub const PARKED_GRACE_ENV: &str = "RECONCILE_PARKED_GRACE_SECONDS";
pub const MAX_REPLAYS_ENV: &str = "RECONCILE_MAX_REPLAYS";

/// What a run checks, in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Events older than this are not looked at (`RECONCILE_LOOKBACK_SECONDS`, default 6 h).
    pub lookback: TimeDelta,
    /// Events younger than this are not looked at: the consumers are still on them
    /// (`RECONCILE_GRACE_SECONDS`, default 10 min).
    pub grace: TimeDelta,
    /// A saga still running or compensating this long after its last write has stalled
    /// (`RECONCILE_SAGA_DEADLINE_SECONDS`, default 15 min).
    pub saga_deadline: TimeDelta,
    /// A parked item younger than this is not replayed yet: the outage that parked it may not
    /// be over, and a replay into it would only fail (`RECONCILE_PARKED_GRACE_SECONDS`, default
    /// 1 min; 0 replays at once).
    pub parked_grace: TimeDelta,
    /// A parked item whose replays failed this many times is left to a person
    /// (`RECONCILE_MAX_REPLAYS`, default 5; 0 turns the reconciler's replays off, every item
    /// then waits for a person).
    pub max_replays: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lookback: TimeDelta::hours(6),
            grace: TimeDelta::minutes(10),
            saga_deadline: TimeDelta::minutes(15),
            parked_grace: TimeDelta::minutes(1),
            max_replays: 5,
        }
    }
}

impl Settings {
    /// The defaults, overridden by whichever variables are set.
    pub fn from_env() -> Result<Self, ReconcilerError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Settings::from_env`], reading the variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ReconcilerError> {
        let defaults = Self::default();
        let seconds = |name: &'static str, default: u64| -> Result<u64, ReconcilerError> {
            match var(name).filter(|value| !value.trim().is_empty()) {
                None => Ok(default),
                Some(value) => match value.trim().parse::<u64>() {
                    Ok(seconds) if seconds > 0 => Ok(seconds),
                    _ => Err(ReconcilerError::Setting {
                        name,
                        value,
                        reason: "not a whole number of seconds above 0".to_owned(),
                    }),
                },
            }
        };
        // A count or a duration for which 0 means something (replay at once, never replay).
        let whole = |name: &'static str, default: u64| -> Result<u64, ReconcilerError> {
            match var(name).filter(|value| !value.trim().is_empty()) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ReconcilerError::Setting {
                        name,
                        value,
                        reason: "not a whole number (0 or more)".to_owned(),
                    }),
            }
        };
        let to_delta = |name: &'static str, seconds: u64| -> Result<TimeDelta, ReconcilerError> {
            i64::try_from(seconds)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .ok_or(ReconcilerError::Setting {
                    name,
                    value: seconds.to_string(),
                    reason: "too long".to_owned(),
                })
        };
        let default_seconds = |delta: TimeDelta| u64::try_from(delta.num_seconds()).unwrap_or(0);
        let delta =
            |name: &'static str, default: TimeDelta| -> Result<TimeDelta, ReconcilerError> {
                to_delta(name, seconds(name, default_seconds(default))?)
            };
        let max_replays = whole(MAX_REPLAYS_ENV, u64::from(defaults.max_replays))?;
        let settings = Self {
            lookback: delta(LOOKBACK_ENV, defaults.lookback)?,
            grace: delta(GRACE_ENV, defaults.grace)?,
            saga_deadline: delta(SAGA_DEADLINE_ENV, defaults.saga_deadline)?,
            parked_grace: to_delta(
                PARKED_GRACE_ENV,
                whole(PARKED_GRACE_ENV, default_seconds(defaults.parked_grace))?,
            )?,
            max_replays: u32::try_from(max_replays).map_err(|_| ReconcilerError::Setting {
                name: MAX_REPLAYS_ENV,
                value: max_replays.to_string(),
                reason: "too many".to_owned(),
            })?,
        };
        if settings.lookback > MAX_LOOKBACK {
            return Err(ReconcilerError::Setting {
                name: LOOKBACK_ENV,
                value: settings.lookback.num_seconds().to_string(),
                reason: format!(
                    "at most {} s: older sales would be settled again under idempotency keys \
                     the provider may have forgotten",
                    MAX_LOOKBACK.num_seconds()
                ),
            });
        }
        if settings.grace >= settings.lookback {
            return Err(ReconcilerError::Setting {
                name: GRACE_ENV,
                value: settings.grace.num_seconds().to_string(),
                reason: format!(
                    "must be below RECONCILE_LOOKBACK_SECONDS ({}), or the window is empty",
                    settings.lookback.num_seconds()
                ),
            });
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn given_no_variables_then_the_defaults_hold() {
        assert_eq!(Settings::from_vars(vars(&[])).unwrap(), Settings::default());
    }

    #[test]
    fn given_variables_then_they_override_the_defaults() {
        let settings = Settings::from_vars(vars(&[
            ("RECONCILE_LOOKBACK_SECONDS", "3600"),
            ("RECONCILE_GRACE_SECONDS", " 60 "),
            ("RECONCILE_SAGA_DEADLINE_SECONDS", "120"),
            ("RECONCILE_PARKED_GRACE_SECONDS", "30"),
            ("RECONCILE_MAX_REPLAYS", "2"),
        ]))
        .unwrap();
        assert_eq!(settings.lookback, TimeDelta::hours(1));
        assert_eq!(settings.grace, TimeDelta::minutes(1));
        assert_eq!(settings.saga_deadline, TimeDelta::minutes(2));
        assert_eq!(settings.parked_grace, TimeDelta::seconds(30));
        assert_eq!(settings.max_replays, 2);
    }

    #[test]
    fn given_no_variables_then_parked_items_get_a_minute_and_five_replays() {
        let settings = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(settings.parked_grace, TimeDelta::minutes(1));
        assert_eq!(settings.max_replays, 5);
    }

    #[test]
    fn given_zero_for_the_parked_settings_then_it_means_at_once_and_never() {
        let settings = Settings::from_vars(vars(&[
            ("RECONCILE_PARKED_GRACE_SECONDS", "0"),
            ("RECONCILE_MAX_REPLAYS", "0"),
        ]))
        .unwrap();
        assert_eq!(settings.parked_grace, TimeDelta::zero());
        assert_eq!(settings.max_replays, 0);
    }

    #[test]
    fn given_a_bad_or_contradictory_value_then_the_settings_are_refused_naming_it() {
        for (pairs, named) in [
            (
                vec![("RECONCILE_GRACE_SECONDS", "ten")],
                "RECONCILE_GRACE_SECONDS",
            ),
            (
                vec![("RECONCILE_PARKED_GRACE_SECONDS", "-1")],
                "RECONCILE_PARKED_GRACE_SECONDS",
            ),
            (
                vec![("RECONCILE_MAX_REPLAYS", "five")],
                "RECONCILE_MAX_REPLAYS",
            ),
            (
                vec![("RECONCILE_MAX_REPLAYS", "4294967296")],
                "RECONCILE_MAX_REPLAYS",
            ),
            (
                vec![("RECONCILE_LOOKBACK_SECONDS", "86401")],
                "RECONCILE_LOOKBACK_SECONDS",
            ),
            (
                vec![
                    ("RECONCILE_LOOKBACK_SECONDS", "600"),
                    ("RECONCILE_GRACE_SECONDS", "600"),
                ],
                "RECONCILE_GRACE_SECONDS",
            ),
        ] {
            match Settings::from_vars(vars(&pairs)) {
                Err(ReconcilerError::Setting { name, .. }) => assert_eq!(name, named),
                other => panic!("{pairs:?} gave {other:?}"),
            }
        }
    }
}
