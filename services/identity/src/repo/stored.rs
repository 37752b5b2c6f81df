//! Reading stored strings through the domain's rules: a column of `agents.status` becomes an
//! `AgentStatus`, a `text[]` of tags a `Vec<Tag>`. A stored value that no longer follows its
//! rule is an error of the read, never a silent default.

use std::error::Error;
use std::fmt::Display;
use std::str::FromStr;

use tokio_postgres::types::{FromSql, Type};

/// A stored string parsed by `T`'s rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T>(pub T);

impl<'a, T> FromSql<'a> for Stored<T>
where
    T: FromStr,
    T::Err: Display,
{
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let s = <&str as FromSql>::from_sql(ty, raw)?;
        s.parse()
            .map(Stored)
            .map_err(|e| format!("stored value {s:?}: {e}").into())
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

/// Reads column `idx` of `row` as a `T`.
pub fn get<T>(row: &tokio_postgres::Row, idx: usize) -> Result<T, tokio_postgres::Error>
where
    T: FromStr,
    T::Err: Display,
{
    Ok(row.try_get::<_, Stored<T>>(idx)?.0)
}

/// Reads column `idx` of `row`, NULL or a `T`.
pub fn get_opt<T>(row: &tokio_postgres::Row, idx: usize) -> Result<Option<T>, tokio_postgres::Error>
where
    T: FromStr,
    T::Err: Display,
{
    Ok(row.try_get::<_, Option<Stored<T>>>(idx)?.map(|s| s.0))
}

/// Reads the `text[]` column `idx` of `row` as `T`s.
pub fn get_vec<T>(row: &tokio_postgres::Row, idx: usize) -> Result<Vec<T>, tokio_postgres::Error>
where
    T: FromStr,
    T::Err: Display,
{
    Ok(row
        .try_get::<_, Vec<Stored<T>>>(idx)?
        .into_iter()
        .map(|s| s.0)
        .collect())
}
