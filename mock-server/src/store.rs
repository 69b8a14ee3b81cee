//! `--state FILE`: the world kept in a SQLite file ([`rusqlite`], SQLite compiled in), behind
//! the domain's [`StateStore`] seam.
//!
//! Layout (schema version [`SCHEMA_VERSION`], in the `schema_version` table):
//! - `users(app, id, seq, doc)` (a rowid table: `WITHOUT ROWID` would give each ~1 KB row an
//!   overflow page of its own, five times the size): one row per user, `doc` their record as snapshot JSON (vehicles
//!   and state, grants, codes, tokens); `seq` grows with each write, so reading rows by `seq`
//!   gives the apps' users least recently changed first;
//! - `tokens(access, app, user, grant_id, doc)`: one row per remembered token pair, `doc` the pair
//!   as snapshot JSON, so a refresh writes one pair and not its whole family;
//! - `control(id = 1, doc)`: the test-control part (clock offset, limits, fault rules, webhook
//!   callbacks and subscriptions) as a snapshot without users;
//! - `counters(id = 1, doc)` (since version 2): what the limits have counted, as
//!   [`LimitCounters`] JSON. Unlike everything above it is not written before an answer (that
//!   would be a write per GET) but once a second when it moved, and at shutdown.
//!
//! A version-1 file (no `counters`) is migrated at open: the table is added and the version set to
//! 2 in one transaction.
//!
//! Writes go to one writer thread in order; it commits whatever has queued up in one transaction
//! (group commit) and only then releases the requests waiting on them, so an answered write is
//! on disk (WAL, `synchronous = FULL`) whatever happens to the process next. Reads never touch
//! the file: the world answers from memory.
//!
//! The connection holds an exclusive lock for its whole life (`locking_mode = EXCLUSIVE`), so a
//! second process on the same file is refused at start. A file this build cannot read (another
//! schema version, not SQLite, read-only, locked) is a start-up error naming it, and is never
//! rewritten.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rusqlite::{Connection, OpenFlags, params};

use crate::domain::limits::LimitCounters;
use crate::domain::snapshot::{Snapshot, TokenSnapshot, UserSnapshot};
use crate::domain::store::{StateStore, Ticket, Write};

/// The schema this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// The table version 2 added.
const COUNTERS_TABLE: &str = "CREATE TABLE counters (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);";

/// Batches larger than this are committed in more than one transaction.
const MAX_BATCH: usize = 1024;

/// Why the state file cannot be used. Each message names the file.
#[derive(Debug, thiserror::Error)]
#[error("state file {file}: {message}")]
pub struct StateError {
    pub file: PathBuf,
    pub message: String,
}

/// The SQLite store: a queue to its writer thread.
#[derive(Debug)]
pub(crate) struct Sqlite {
    queue: mpsc::Sender<Job>,
}

type Job = (Vec<Write>, mpsc::SyncSender<()>);

/// A state file opened: its store, and the world it held (empty for a new file).
#[derive(Debug)]
pub(crate) struct Opened {
    pub store: Sqlite,
    pub snapshot: Snapshot,
    /// What the limits had counted when they were last saved.
    pub counters: Option<LimitCounters>,
    /// The file held no user and no settings yet.
    pub empty: bool,
}

impl StateStore for Sqlite {
    fn write(&self, batch: Vec<Write>) -> Ticket {
        let (done, wait) = mpsc::sync_channel(1);
        // A writer that stopped has logged why; the ticket then returns at once.
        let _ = self.queue.send((batch, done));
        Ticket::pending(wait)
    }
}

/// Opens (or creates) the state file, takes its lock, checks its schema and reads the world in it.
pub(crate) fn open(file: &Path) -> Result<Opened, StateError> {
    let fail = |message: String| StateError {
        file: file.to_path_buf(),
        message,
    };
    let sqlite = |error: rusqlite::Error| fail(describe(&error));
    let connection =
        Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
            .map_err(sqlite)?;
    if connection.is_readonly(rusqlite::MAIN_DB).map_err(sqlite)? {
        return Err(fail(
            "is read-only; the mock keeps every change in it, so it needs write access".to_owned(),
        ));
    }
    // Fail at once on a lock another process holds, rather than waiting for it.
    connection.busy_timeout(std::time::Duration::ZERO).map_err(sqlite)?;
    connection
        .pragma_update(None, "locking_mode", "EXCLUSIVE")
        .map_err(sqlite)?;
    let mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(fail(format!(
            "could not switch to write-ahead logging (journal mode {mode})"
        )));
    }
    connection.pragma_update(None, "synchronous", "FULL").map_err(sqlite)?;
    // The log is reused after each checkpoint; past this it is cut back, so one large load (a
    // scenario of 100,000 vehicles) does not leave a log the size of the file behind.
    connection
        .pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)
        .map_err(sqlite)?;
    // Takes the exclusive lock, held until the connection closes.
    connection.execute_batch("BEGIN EXCLUSIVE; COMMIT;").map_err(sqlite)?;
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut query| query.query_map([], |row| row.get(0))?.collect())
        .map_err(sqlite)?;
    if tables.is_empty() {
        connection
            .execute_batch(&format!(
                "BEGIN;
                 CREATE TABLE schema_version (version INTEGER NOT NULL);
                 INSERT INTO schema_version VALUES ({SCHEMA_VERSION});
                 CREATE TABLE users (app TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL,
                                     PRIMARY KEY (app, id));
                 CREATE TABLE tokens (access TEXT PRIMARY KEY, app TEXT NOT NULL, user TEXT NOT NULL,
                                      grant_id TEXT NOT NULL, doc TEXT NOT NULL);
                 CREATE INDEX tokens_of_user ON tokens (app, user);
                 CREATE TABLE control (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);
                 {COUNTERS_TABLE}
                 COMMIT;"
            ))
            .map_err(sqlite)?;
    } else if !tables.iter().any(|name| name == "schema_version") {
        return Err(fail(format!(
            "is a SQLite file but not a mock-server state file (its tables: {}); give another file",
            tables.join(", ")
        )));
    }
    let mut version: i64 = connection
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .map_err(sqlite)?;
    if version == 1 {
        // Version 2 only adds the counters; a version-1 file keeps everything it holds.
        connection
            .execute_batch(&format!(
                "BEGIN; {COUNTERS_TABLE} UPDATE schema_version SET version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(|error| fail(format!("could not be migrated from version 1: {}", describe(&error))))?;
        version = SCHEMA_VERSION;
    }
    if version != SCHEMA_VERSION {
        let which = if version < 1 {
            "an older mock-server; there is no migration from it"
        } else {
            "a newer mock-server"
        };
        return Err(fail(format!(
            "has schema version {version}, written by {which}; this build reads version {SCHEMA_VERSION}"
        )));
    }
    let (snapshot, empty) = read(&connection).map_err(fail)?;
    let counters = read_counters(&connection).map_err(fail)?;
    let seq: i64 = connection
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM users", [], |row| row.get(0))
        .map_err(sqlite)?;
    let (queue, jobs) = mpsc::channel();
    let file = file.to_path_buf();
    std::thread::Builder::new()
        .name("state-writer".to_owned())
        .spawn(move || write_loop(connection, jobs, seq, &file))
        .map_err(|error| StateError {
            file: PathBuf::new(),
            message: format!("could not start the writer thread: {error}"),
        })?;
    Ok(Opened {
        store: Sqlite { queue },
        snapshot,
        counters,
        empty,
    })
}

/// SQLite's error in the words a person starting the mock needs.
fn describe(error: &rusqlite::Error) -> String {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            "is locked: another mock-server (or another program) has it open; stop it or give another file".to_owned()
        }
        Some(rusqlite::ErrorCode::NotADatabase) => {
            "is not a SQLite database (corrupt, or another kind of file); it was left as it is".to_owned()
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => "is corrupt; it was left as it is".to_owned(),
        Some(rusqlite::ErrorCode::ReadOnly) => {
            "is read-only; the mock keeps every change in it, so it needs write access".to_owned()
        }
        Some(rusqlite::ErrorCode::CannotOpen) => format!("cannot be opened: {error}"),
        _ => error.to_string(),
    }
}

/// The world in the file: the control document with every user row added, least recently
/// changed first.
fn read(connection: &Connection) -> Result<(Snapshot, bool), String> {
    let control: Option<String> = connection
        .query_row("SELECT doc FROM control WHERE id = 1", [], |row| row.get(0))
        .map(Some)
        .or_else(|error| match error {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            error => Err(describe(&error)),
        })?;
    let mut empty = control.is_none();
    let mut snapshot = match control {
        Some(doc) => crate::domain::snapshot::parse(doc.as_bytes())
            .map_err(|error| format!("its settings (table control) do not read: {error}"))?,
        None => Snapshot::default(),
    };
    let rows = three_texts(connection, "SELECT app, id, doc FROM users ORDER BY seq")?;
    let mut tokens: HashMap<String, Vec<TokenSnapshot>> = HashMap::new();
    for (grant, access, doc) in three_texts(connection, "SELECT grant_id, access, doc FROM tokens ORDER BY rowid")? {
        let pair: TokenSnapshot = serde_json::from_str(&doc)
            .map_err(|error| format!("token {access} (table tokens) does not read: {error}"))?;
        tokens.entry(grant).or_default().push(pair);
    }
    let mut users: BTreeMap<String, Vec<UserSnapshot>> = BTreeMap::new();
    for (app, id, doc) in rows {
        let mut user: UserSnapshot = serde_json::from_str(&doc)
            .map_err(|error| format!("user {id} of app {app} (table users) does not read: {error}"))?;
        for grant in &mut user.grants {
            if let Some(pairs) = grant.id.and_then(|id| tokens.remove(&id.to_string())) {
                grant.tokens = pairs;
            }
        }
        users.entry(app).or_default().push(user);
        empty = false;
    }
    for (app, users) in users {
        snapshot.apps.entry(app).or_default().users = users;
    }
    Ok((snapshot, empty))
}

/// The limits' counters as last saved, if they ever were.
fn read_counters(connection: &Connection) -> Result<Option<LimitCounters>, String> {
    let doc: Option<String> = connection
        .query_row("SELECT doc FROM counters WHERE id = 1", [], |row| row.get(0))
        .map(Some)
        .or_else(|error| match error {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            error => Err(describe(&error)),
        })?;
    doc.map(|doc| {
        serde_json::from_str(&doc).map_err(|error| format!("its limit counters (table counters) do not read: {error}"))
    })
    .transpose()
}

/// Every row of `sql`, a query of three text columns.
fn three_texts(connection: &Connection, sql: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut query = connection.prepare(sql).map_err(|error| describe(&error))?;
    let rows = query
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(|error| describe(&error))?;
    rows.collect::<Result<_, _>>().map_err(|error| describe(&error))
}

/// The writer thread: takes what has queued up, commits it in one transaction, then releases
/// its waiters. Ends when every handle to the store is gone.
fn write_loop(mut connection: Connection, jobs: mpsc::Receiver<Job>, mut seq: i64, file: &Path) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(error) = commit(&mut connection, &batch, &mut seq) {
            // The answers waiting on this batch would claim changes the file does not hold (a full
            // disk, a file taken away): stop instead, so nothing acknowledged is lost. What was
            // committed before stays, and a restart on the same file goes on from there.
            let message = format!(
                "state file {}: a write failed ({}); stopping, so that no answer claims a change the file does not hold",
                file.display(),
                describe(&error)
            );
            tracing::error!("{message}");
            eprintln!("{message}");
            std::process::exit(74);
        }
        for (_, done) in batch {
            let _ = done.send(());
        }
    }
}

fn commit(connection: &mut Connection, batch: &[Job], seq: &mut i64) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
        let mut upsert =
            transaction.prepare_cached("INSERT OR REPLACE INTO users (app, id, seq, doc) VALUES (?1, ?2, ?3, ?4)")?;
        let mut delete = transaction.prepare_cached("DELETE FROM users WHERE app = ?1 AND id = ?2")?;
        let mut delete_tokens_of = transaction.prepare_cached("DELETE FROM tokens WHERE app = ?1 AND user = ?2")?;
        let mut upsert_token = transaction.prepare_cached(
            "INSERT OR REPLACE INTO tokens (access, app, user, grant_id, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut delete_token = transaction.prepare_cached("DELETE FROM tokens WHERE access = ?1")?;
        for (writes, _) in batch {
            for write in writes {
                match write {
                    Write::User {
                        app,
                        id,
                        doc: Some(doc),
                    } => {
                        *seq += 1;
                        let json = serde_json::to_string(doc)
                            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
                        upsert.execute(params![app, id.to_string(), *seq, json])?;
                    }
                    Write::User { app, id, doc: None } => {
                        delete.execute(params![app, id.to_string()])?;
                        delete_tokens_of.execute(params![app, id.to_string()])?;
                    }
                    Write::Token { app, user, grant, pair } => {
                        let json = serde_json::to_string(pair)
                            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
                        upsert_token.execute(params![
                            pair.access_token.to_string(),
                            app,
                            user.to_string(),
                            grant.to_string(),
                            json
                        ])?;
                    }
                    Write::ForgetTokens(accesses) => {
                        for access in accesses {
                            delete_token.execute(params![access.to_string()])?;
                        }
                    }
                    Write::Clear(Some(app)) => {
                        transaction.execute("DELETE FROM users WHERE app = ?1", params![app])?;
                        transaction.execute("DELETE FROM tokens WHERE app = ?1", params![app])?;
                    }
                    Write::Clear(None) => {
                        transaction.execute("DELETE FROM users", [])?;
                        transaction.execute("DELETE FROM tokens", [])?;
                    }
                    Write::Control(doc) => {
                        transaction.execute("INSERT OR REPLACE INTO control (id, doc) VALUES (1, ?1)", params![doc])?;
                    }
                    Write::Counters(doc) => {
                        transaction
                            .execute("INSERT OR REPLACE INTO counters (id, doc) VALUES (1, ?1)", params![doc])?;
                    }
                }
            }
        }
    }
    transaction.commit()
}
