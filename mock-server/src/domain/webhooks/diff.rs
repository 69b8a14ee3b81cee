//! What a webhook should be sent about one vehicle now, given what it was last sent: a pure
//! function of the subscription, the vehicle's state and the webhook's format.
//!
//! - Only the signals the webhook names *and* the subscribing grant permits are considered; a
//!   signal the grant does not permit is not mentioned at all, not even as an error.
//! - A signal is readable unless, in the vehicle API's order: the vehicle lacks its capability
//!   (`COMPATIBILITY:VEHICLE_NOT_CAPABLE`), the owner's `<TYPE>.<CODE>@smartcar.com` test login
//!   forces an error, or the vehicle is asleep (`VEHICLE_STATE:ASLEEP`).
//! - A `VEHICLE_STATE` (current format) goes on the first delivery and whenever a readable
//!   signal's body changed, carrying every readable signal and naming the changed ones; a
//!   `VEHICLE_ERROR` whenever an error appeared or resolved. The legacy format sends one data
//!   event for any of these.

use std::collections::HashMap;

use serde_json::Value;

use super::PayloadVersion;
use super::signals::{self, Signal};
use crate::domain::catalogue::{self, Entry};
use crate::domain::permissions::Permission;
use crate::domain::vehicle::{Capability, VehicleState};

/// Why a `VEHICLE_STATE` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The vehicle was just subscribed: everything is sent, changed or not.
    FirstDelivery,
    SignalUpdated,
}

/// A problem reading some signals, or the end of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    pub entry: &'static Entry,
    /// Signal codes.
    pub signals: Vec<&'static str>,
    pub resolved: bool,
}

/// What was last sent about one subscribed vehicle, so that only changes are sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastSent {
    signals: HashMap<&'static str, Value>,
    errors: Vec<ErrorReport>,
}

impl LastSent {
    /// Forgets the signals sent, so the next diff sends every readable one again.
    pub fn forget_signals(&mut self) {
        self.signals.clear();
    }
}

/// Who subscribed the vehicle: what their grant lets events carry.
#[derive(Debug, Clone, Copy)]
pub struct Permits<'a> {
    /// The permissions of the grant whose access token subscribed the vehicle.
    pub scopes: &'a [Permission],
    /// The error the owner's test login makes every read fail with.
    pub forced_error: Option<&'static Entry>,
}

/// The vehicle now.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    pub state: &'a VehicleState,
    pub capabilities: &'a [Capability],
}

/// The outcome of comparing the vehicle now with what was last sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// Every signal readable now, with its body.
    pub readable: Vec<(&'static Signal, Value)>,
    /// The readable signals whose body is not what was last sent.
    pub changed: Vec<&'static Signal>,
    /// The errors keeping signals back now.
    pub errors: Vec<ErrorReport>,
    /// The errors that appeared since the last send, then those that resolved
    /// (`resolved: true`).
    pub reports: Vec<ErrorReport>,
}

/// One event to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Current format: every readable signal, with what triggered it.
    VehicleState,
    /// Current format: the errors that appeared or resolved.
    VehicleError,
    /// Legacy format: the vehicle's data and unresolved errors.
    LegacyData,
}

impl Diff {
    /// What `wanted` (a webhook's signal codes) would report now, given `last`; and what was
    /// sent once these events go out.
    pub fn between(last: &LastSent, wanted: &[String], permits: Permits<'_>, now: Reading<'_>) -> (Diff, LastSent) {
        let wanted: Vec<&'static Signal> = wanted
            .iter()
            .filter_map(|code| signals::find(code))
            .filter(|signal| permits.scopes.contains(&signal.permission))
            .collect();
        let (readable, errors) = evaluate(&wanted, now, permits.forced_error);
        let changed: Vec<&'static Signal> = readable
            .iter()
            .filter(|(signal, body)| last.signals.get(signal.code) != Some(body))
            .map(|(signal, _)| *signal)
            .collect();
        let mut reports: Vec<ErrorReport> = errors.iter().filter(|e| !last.errors.contains(e)).cloned().collect();
        reports.extend(
            last.errors
                .iter()
                .filter(|old| !errors.iter().any(|e| e.entry == old.entry))
                .map(|old| ErrorReport {
                    resolved: true,
                    ..old.clone()
                }),
        );
        let sent = LastSent {
            signals: readable.iter().map(|(s, body)| (s.code, body.clone())).collect(),
            errors: errors.clone(),
        };
        let diff = Diff {
            readable,
            changed,
            errors,
            reports,
        };
        (diff, sent)
    }

    /// The events a webhook of `version` is sent for this diff.
    pub fn events(&self, version: PayloadVersion, trigger: Trigger) -> Vec<Event> {
        let first = trigger == Trigger::FirstDelivery;
        let changed = !self.changed.is_empty();
        let reported = !self.reports.is_empty();
        match version {
            PayloadVersion::V4 => {
                let mut events = Vec::new();
                if first || changed {
                    events.push(Event::VehicleState);
                }
                if reported {
                    events.push(Event::VehicleError);
                }
                events
            }
            PayloadVersion::V2 if first || changed || reported => vec![Event::LegacyData],
            PayloadVersion::V2 => Vec::new(),
        }
    }
}

/// The signals this vehicle can report now, and the errors keeping the others back.
fn evaluate(
    wanted: &[&'static Signal],
    now: Reading<'_>,
    forced_error: Option<&'static Entry>,
) -> (Vec<(&'static Signal, Value)>, Vec<ErrorReport>) {
    let (capable, incapable): (Vec<&'static Signal>, Vec<&'static Signal>) = wanted
        .iter()
        .partition(|signal| now.capabilities.contains(&signal.capability));
    let mut errors = Vec::new();
    if !incapable.is_empty() {
        errors.push(ErrorReport {
            entry: &catalogue::VEHICLE_NOT_CAPABLE,
            signals: incapable.iter().map(|s| s.code).collect(),
            resolved: false,
        });
    }
    let unreadable = match forced_error {
        Some(entry) => Some(entry),
        None if now.state.asleep => Some(&catalogue::VEHICLE_STATE_ASLEEP),
        None => None,
    };
    if let Some(entry) = unreadable {
        if !capable.is_empty() {
            errors.push(ErrorReport {
                entry,
                signals: capable.iter().map(|s| s.code).collect(),
                resolved: false,
            });
        }
        return (Vec::new(), errors);
    }
    let readable = capable
        .into_iter()
        .filter_map(|signal| signal.body(now.state).map(|body| (signal, body)))
        .collect();
    (readable, errors)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::fixtures::Fixtures;
    use crate::domain::vehicle::VehicleSpec;

    const ODOMETER: &str = "odometer-traveleddistance";
    const LOCATION: &str = "location-preciselocation";
    const FUEL: &str = "internalcombustionengine-fuellevel";

    /// A fixture vehicle with an odometer and a location but no fuel tank.
    fn electric() -> Arc<VehicleSpec> {
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        fixtures
            .brands
            .iter()
            .flat_map(|brand| brand.vehicles.iter())
            .find(|spec| {
                let has = |c| spec.capabilities.contains(&c);
                has(Capability::Odometer) && has(Capability::Location) && !has(Capability::Fuel)
            })
            .cloned()
            .expect("an electric fixture vehicle")
    }

    fn wanted() -> Vec<String> {
        [ODOMETER, LOCATION].map(str::to_owned).to_vec()
    }

    const EVERYTHING: Permits<'static> = Permits {
        scopes: &[Permission::ReadOdometer, Permission::ReadLocation, Permission::ReadFuel],
        forced_error: None,
    };

    fn reading(spec: &VehicleSpec, state: &VehicleState) -> (Diff, LastSent) {
        let last = LastSent::default();
        let now = Reading {
            state,
            capabilities: &spec.capabilities,
        };
        Diff::between(&last, &wanted(), EVERYTHING, now)
    }

    fn codes(signals: &[&'static Signal]) -> Vec<&'static str> {
        signals.iter().map(|signal| signal.code).collect()
    }

    #[test]
    fn the_first_delivery_carries_every_readable_signal() {
        let spec = electric();

        let (diff, _) = reading(&spec, &spec.state);

        assert_eq!(codes(&diff.changed), vec![ODOMETER, LOCATION]);
        assert_eq!(diff.readable.len(), 2);
        assert_eq!(
            diff.events(PayloadVersion::V4, Trigger::FirstDelivery),
            vec![Event::VehicleState]
        );
    }

    #[test]
    fn nothing_changed_sends_nothing() {
        let spec = electric();
        let (_, last) = reading(&spec, &spec.state);
        let now = Reading {
            state: &spec.state,
            capabilities: &spec.capabilities,
        };

        let (diff, again) = Diff::between(&last, &wanted(), EVERYTHING, now);

        assert!(diff.changed.is_empty() && diff.reports.is_empty());
        assert!(diff.events(PayloadVersion::V4, Trigger::SignalUpdated).is_empty());
        assert!(diff.events(PayloadVersion::V2, Trigger::SignalUpdated).is_empty());
        assert_eq!(again, last);
    }

    #[test]
    fn a_change_names_only_the_signal_that_changed() {
        let spec = electric();
        let (_, last) = reading(&spec, &spec.state);
        let mut driven = (*spec.state).clone();
        if let Some(odometer) = driven.odometer.as_mut() {
            odometer.distance += 12.5;
        }
        let now = Reading {
            state: &driven,
            capabilities: &spec.capabilities,
        };

        let (diff, _) = Diff::between(&last, &wanted(), EVERYTHING, now);

        assert_eq!(codes(&diff.changed), vec![ODOMETER]);
        assert_eq!(diff.readable.len(), 2, "a VEHICLE_STATE carries every readable signal");
        assert_eq!(
            diff.events(PayloadVersion::V4, Trigger::SignalUpdated),
            vec![Event::VehicleState]
        );
        assert_eq!(
            diff.events(PayloadVersion::V2, Trigger::SignalUpdated),
            vec![Event::LegacyData]
        );
    }

    #[test]
    fn an_error_is_reported_when_it_appears_and_again_when_it_resolves() {
        let spec = electric();
        let (_, awake) = reading(&spec, &spec.state);
        let mut asleep = (*spec.state).clone();
        asleep.asleep = true;
        let capabilities = &spec.capabilities;

        let (falling_asleep, sleeping) = Diff::between(
            &awake,
            &wanted(),
            EVERYTHING,
            Reading {
                state: &asleep,
                capabilities,
            },
        );
        let (waking_up, _) = Diff::between(
            &sleeping,
            &wanted(),
            EVERYTHING,
            Reading {
                state: &spec.state,
                capabilities,
            },
        );

        assert_eq!(
            falling_asleep.reports,
            vec![ErrorReport {
                entry: &catalogue::VEHICLE_STATE_ASLEEP,
                signals: vec![ODOMETER, LOCATION],
                resolved: false,
            }]
        );
        assert!(falling_asleep.readable.is_empty());
        assert_eq!(
            falling_asleep.events(PayloadVersion::V4, Trigger::SignalUpdated),
            vec![Event::VehicleError]
        );
        assert_eq!(waking_up.reports.len(), 1);
        assert!(waking_up.reports[0].resolved);
        assert_eq!(
            waking_up.events(PayloadVersion::V4, Trigger::SignalUpdated),
            vec![Event::VehicleState, Event::VehicleError],
            "the signals are readable again, and the error resolved"
        );
    }

    #[test]
    fn a_signal_the_grant_does_not_permit_is_not_mentioned() {
        let spec = electric();
        let permits = Permits {
            scopes: &[Permission::ReadOdometer],
            forced_error: None,
        };
        let mut asleep = (*spec.state).clone();
        asleep.asleep = true;
        let now = Reading {
            state: &spec.state,
            capabilities: &spec.capabilities,
        };

        let (awake, _) = Diff::between(&LastSent::default(), &wanted(), permits, now);
        let (sleeping, _) = Diff::between(
            &LastSent::default(),
            &wanted(),
            permits,
            Reading { state: &asleep, ..now },
        );

        assert_eq!(codes(&awake.changed), vec![ODOMETER]);
        assert_eq!(sleeping.reports[0].signals, vec![ODOMETER], "not even in an error");
    }

    #[test]
    fn a_signal_the_vehicle_cannot_report_is_not_capable_and_a_forced_error_takes_the_rest() {
        let spec = electric();
        let permits = Permits {
            forced_error: Some(&catalogue::VEHICLE_STATE_UNKNOWN),
            ..EVERYTHING
        };
        let now = Reading {
            state: &spec.state,
            capabilities: &spec.capabilities,
        };

        let (diff, _) = Diff::between(
            &LastSent::default(),
            &[ODOMETER.to_owned(), FUEL.to_owned()],
            permits,
            now,
        );

        let reported: Vec<(Option<&str>, &[&str])> = diff
            .errors
            .iter()
            .map(|error| (error.entry.code, error.signals.as_slice()))
            .collect();
        assert_eq!(
            reported,
            vec![
                (Some("VEHICLE_NOT_CAPABLE"), &[FUEL][..]),
                (Some("UNKNOWN"), &[ODOMETER][..]),
            ]
        );
        assert!(diff.readable.is_empty());
    }
}
