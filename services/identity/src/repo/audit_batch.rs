//! SQL of the audit group commit: one batch of events from many requests, appended in one
//! transaction.
//!
//! The writer remembers the head of every tenant chain it last wrote (`known`) and appends
//! with one call of `audit_append`, which writes only if no head moved. When one did
//! (another instance, or a management change, appended meanwhile) it locks the heads and
//! appends with pipelined statements: two round trips.

use std::collections::HashMap;

use platform::ApiError;
use platform::db::Db;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::audit::{
    EventColumns, HeadColumns, INSERT_EVENTS, LOCK_HEADS, UPDATE_HEADS, heads_from,
};
use crate::audit::event::{Heads, NewEvent, chain, tenants_of};

/// The last head this instance wrote of each tenant chain: `(chain_seq, hash)`.
pub type KnownHeads = HashMap<Uuid, (i64, Vec<u8>)>;

const CALL_APPEND: &str = "SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                                                 $12, $13, $14, $15)";

/// Appends `events` in one transaction and commits, updating `known`.
pub async fn write(db: &Db, known: &mut KnownHeads, events: &[NewEvent]) -> Result<(), ApiError> {
    let tenants = tenants_of(events);
    let client = db.get().await?;
    if tenants.iter().all(|t| known.contains_key(t)) {
        let expected: Heads = tenants
            .iter()
            .filter_map(|t| known.get(t).map(|h| (*t, h.clone())))
            .collect();
        let mut heads = expected.clone();
        let chained = chain(events, &mut heads);
        let cols = EventColumns::new(&chained);
        let new = HeadColumns::new(&heads);
        let old = HeadColumns::new(&expected);
        let stmt = client.prepare_cached(CALL_APPEND).await?;
        let p = cols.params();
        let result = client
            .execute(
                &stmt,
                &[
                    p[0],
                    p[1],
                    p[2],
                    p[3],
                    p[4],
                    p[5],
                    p[6],
                    p[7],
                    p[8],
                    p[9],
                    p[10],
                    &new.tenants,
                    &old.seqs,
                    &new.seqs,
                    &new.hashes,
                ],
            )
            .await;
        match result {
            Ok(_) => {
                known.extend(heads);
                return Ok(());
            }
            Err(e) if e.code() == Some(&SqlState::from_code("AU001")) => {
                for t in &tenants {
                    known.remove(t);
                }
            }
            Err(e) => {
                for t in &tenants {
                    known.remove(t);
                }
                return Err(e.into());
            }
        }
    }
    // Lock the heads, then write: BEGIN + lock, then insert + update + COMMIT, pipelined.
    let lock = client.prepare_cached(LOCK_HEADS).await?;
    let insert = client.prepare_cached(INSERT_EVENTS).await?;
    let update = client.prepare_cached(UPDATE_HEADS).await?;
    let lock_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&tenants];
    let (begun, locked) = tokio::join!(
        client.batch_execute("BEGIN"),
        client.query(&lock, &lock_params)
    );
    let outcome = async {
        begun?;
        let mut heads = heads_from(&locked?);
        let chained = chain(events, &mut heads);
        let cols = EventColumns::new(&chained);
        let h = HeadColumns::new(&heads);
        let insert_params = cols.params();
        let update_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&h.tenants, &h.seqs, &h.hashes];
        let (inserted, updated, committed) = tokio::join!(
            client.execute(&insert, &insert_params),
            client.execute(&update, &update_params),
            client.batch_execute("COMMIT"),
        );
        inserted?;
        updated?;
        committed?;
        Ok::<_, tokio_postgres::Error>(heads)
    }
    .await;
    match outcome {
        Ok(heads) => {
            known.extend(heads);
            Ok(())
        }
        Err(e) => {
            // The connection may be inside an aborted transaction: never return it to the pool.
            drop(deadpool_postgres::Object::take(client));
            Err(e.into())
        }
    }
}
