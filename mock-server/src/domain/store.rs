//! Where the world is kept beyond memory: the [`StateStore`] seam.
//!
//! The world stays the source of every answer (reads never leave memory). A world given a store
//! hands it, under the world's lock so that the order on disk is the order of the changes, what
//! each write changed — one user's record as a [`UserSnapshot`], a forgotten user, a cleared app,
//! the test-control settings — and waits for the store's [`Ticket`] after the lock is released,
//! before the answer goes out: what was answered is stored.
//!
//! A world without a store (the default) builds none of this. The SQLite store is
//! `crate::store::Sqlite` (`--state FILE`); a networked store would be another implementation.

use std::sync::mpsc;

use uuid::Uuid;

use crate::domain::snapshot::{TokenSnapshot, UserSnapshot};

/// One change to keep.
#[derive(Debug, Clone)]
pub enum Write {
    /// A user's record (without its token pairs) as it stands now, or `None` once forgotten (with
    /// their token pairs).
    User {
        app: String,
        id: Uuid,
        doc: Option<Box<UserSnapshot>>,
    },
    /// A token pair as it stands now (issued, or its refresh token used), kept beside its user's
    /// record so that a refresh writes one pair, not the whole family.
    Token {
        app: String,
        user: Uuid,
        grant: Uuid,
        pair: TokenSnapshot,
    },
    /// Token pairs forgotten or revoked, by access token.
    ForgetTokens(Vec<Uuid>),
    /// Every user of one app (`Some`) or of every app is gone.
    Clear(Option<String>),
    /// The test-control part of the world (a snapshot without users, as JSON).
    Control(String),
    /// What the limits have counted (`LimitCounters` as JSON). Saved once
    /// a second when it moved, and at shutdown, never per request.
    Counters(String),
}

/// A batch of writes handed to a store; [`Ticket::wait`] returns once it is durable.
#[derive(Debug)]
pub struct Ticket(Option<mpsc::Receiver<()>>);

impl Ticket {
    /// A ticket that is already done (a store that keeps nothing).
    pub fn done() -> Self {
        Ticket(None)
    }

    /// A ticket done when `receiver` hears (or its sender is gone: the store stopped).
    pub fn pending(receiver: mpsc::Receiver<()>) -> Self {
        Ticket(Some(receiver))
    }

    /// Blocks until the batch is on disk. A few milliseconds at most (one group commit); the
    /// answer must not leave before it.
    pub fn wait(self) {
        let Some(receiver) = self.0 else {
            return;
        };
        // On a multi-threaded runtime the worker hands its other tasks on while this one waits,
        // so many requests wait at once and share one commit (without it, two cores would mean
        // batches of two). An error means the writer stopped; it has said why in the log.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                let _ = tokio::task::block_in_place(|| receiver.recv());
            }
            _ => {
                let _ = receiver.recv();
            }
        }
    }
}

/// Keeps the world's changes. `write` must not block: it queues the batch in order and returns
/// the ticket to wait on.
pub trait StateStore: Send + Sync + std::fmt::Debug {
    fn write(&self, batch: Vec<Write>) -> Ticket;
}
