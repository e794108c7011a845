//! The rules both embedded engines apply to their state: the challenge slot, the watch entry, the
//! recorded revocation status and the de-duplication step of [`crate::TenantStore::append_events`].

use serde::{Deserialize, Serialize};

use jpki_core::CertId;

use crate::types::{check_kind, compare_crl_numbers, normalise_crl_number};
use crate::{
    Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, RevocationNotice, StatusChange, StoreError, WatchRequest,
};

/// A challenge slot: the challenge until first consumed, then only the used marker (the bytes are
/// no longer needed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum ChallengeSlot {
    Pending { challenge: Challenge },
    Used { used_at: i64, expires_at: i64 },
}

impl ChallengeSlot {
    /// What consuming this slot at `now` answers, and the used marker to store in its place when
    /// it was pending (the first use, also of an expired challenge, marks it used).
    pub(crate) fn consume(&self, now: i64) -> (ConsumeOutcome, Option<ChallengeSlot>) {
        match self {
            ChallengeSlot::Used { used_at, .. } => (ConsumeOutcome::AlreadyUsed { used_at: *used_at }, None),
            ChallengeSlot::Pending { challenge } => {
                let marker = ChallengeSlot::Used { used_at: now, expires_at: challenge.expires_at };
                let outcome = if now >= challenge.expires_at {
                    ConsumeOutcome::Expired(challenge.clone())
                } else {
                    ConsumeOutcome::Consumed(challenge.clone())
                };
                (outcome, Some(marker))
            }
        }
    }
}

/// What linking a certificate that is already linked answers: idempotent for the same customer.
pub(crate) fn existing_link(existing: LinkRecord, customer_id: &str) -> LinkOutcome {
    if existing.customer_id == customer_id {
        LinkOutcome::AlreadyLinked(existing)
    } else {
        LinkOutcome::LinkedToOther { customer_id: existing.customer_id }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct WatchEntry {
    pub(crate) kind: String,
    pub(crate) not_after: i64,
}

/// The last recorded status of a (tenant, certificate): what [`crate::TenantStore::append_events`]
/// compares each notice with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EventStatus {
    /// The event that recorded it.
    pub(crate) sequence: u64,
    pub(crate) change: StatusChange,
    pub(crate) reason: Option<String>,
    /// The highest cRLNumber seen for it, without leading zeros (the staleness floor).
    pub(crate) crl_number: Option<String>,
}

/// What a notice does to the recorded status.
pub(crate) enum Step {
    /// Nothing is written; answer this sequence (0: nothing to release).
    Answer(u64),
    /// A repeat from a newer list: answer its sequence and record this status (the floor raised).
    RaiseFloor(EventStatus),
    /// A change: append it, with this floor.
    Append(Option<String>),
}

/// The documented rules of [`TenantStore::append_events`] for one notice.
pub(crate) fn step(last: Option<&EventStatus>, notice: &RevocationNotice) -> Step {
    let number = notice.crl_number.as_deref().and_then(normalise_crl_number);
    let Some(last) = last else {
        return match notice.change {
            StatusChange::Released => Step::Answer(0),
            _ => Step::Append(number.map(str::to_owned)),
        };
    };
    if notice.change == StatusChange::Released && last.change != StatusChange::Held {
        return Step::Answer(0);
    }
    let floor = last.crl_number.as_deref();
    if number.zip(floor).is_some_and(|(number, floor)| compare_crl_numbers(number, floor).is_lt()) {
        return Step::Answer(last.sequence);
    }
    if last.change == notice.change && last.reason == notice.reason {
        return match number {
            Some(number) if floor.is_none_or(|floor| compare_crl_numbers(number, floor).is_gt()) => {
                Step::RaiseFloor(EventStatus {
                    sequence: last.sequence,
                    change: last.change,
                    reason: last.reason.clone(),
                    crl_number: Some(number.to_owned()),
                })
            }
            _ => Step::Answer(last.sequence),
        };
    }
    // Not stale: the notice's number, when it has one, is at least the floor.
    Step::Append(number.or(floor).map(str::to_owned))
}

/// A checked watch request: the certificate and its entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Watched {
    pub(crate) certificate: CertId,
    pub(crate) entry: WatchEntry,
}

impl Watched {
    /// Checks a watch request's certificate id and kind.
    pub(crate) fn checked(request: WatchRequest) -> Result<Watched, StoreError> {
        request.certificate.validate()?;
        check_kind(&request.kind)?;
        Ok(Watched {
            certificate: request.certificate,
            entry: WatchEntry { kind: request.kind, not_after: request.not_after },
        })
    }
}
