//! Lists of checked values (an agent's tags, its capabilities): every item checked, every
//! problem reported, duplicates dropped.

use crate::problems::FieldProblems;

/// Parses each item of `items` with `parse`, keeping the first of equal values. Problems
/// are `(field, message)` pairs: `(field, too_many)` when there are more than `max` items,
/// then `(field[i], error)` for each bad item, in order.
pub(crate) fn parse_list<T, E, S>(
    field: &str,
    items: &[S],
    max: usize,
    too_many: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, FieldProblems>
where
    T: PartialEq,
    E: ToString,
    S: AsRef<str>,
{
    let mut problems = Vec::new();
    if items.len() > max {
        problems.push((field.to_owned(), too_many.to_owned()));
    }
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parse(item.as_ref()) {
            Ok(v) if !out.contains(&v) => out.push(v),
            Ok(_) => {}
            Err(e) => problems.push((format!("{field}[{i}]"), e.to_string())),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
