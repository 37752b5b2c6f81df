//! The agent activity heatmap: day of week × hour of day in UTC, from hourly rollups.
//!
//! Rows are ISO days of the week with Monday = 0 … Sunday = 6; columns are UTC hours 0–23.
//! A count lands in the cell of the hour bucket it was rolled up into, so an event at
//! Sunday 23:59:59.999 UTC is in (6, 23) and one at Monday 00:00:00 UTC in (0, 0).

use time::{OffsetDateTime, UtcOffset};

/// Day-of-week rows.
pub const DAYS: usize = 7;
/// Hour-of-day columns.
pub const HOURS: usize = 24;

/// The grid.
pub type Grid = [[i64; HOURS]; DAYS];

/// The (day of week, hour) cell of an instant, in UTC.
pub fn cell(t: OffsetDateTime) -> (usize, usize) {
    let t = t.to_offset(UtcOffset::UTC);
    (
        usize::from(t.weekday().number_days_from_monday()),
        usize::from(t.hour()),
    )
}

/// Sums hourly buckets into the grid.
pub fn grid(hours: impl IntoIterator<Item = (OffsetDateTime, i64)>) -> Grid {
    let mut g = [[0; HOURS]; DAYS];
    for (bucket, count) in hours {
        let (d, h) = cell(bucket);
        g[d][h] += count;
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn cells_follow_utc_boundaries() {
        // 2026-03-01 is a Sunday.
        assert_eq!(cell(datetime!(2026-03-01 23:59:59.999 UTC)), (6, 23));
        assert_eq!(cell(datetime!(2026-03-02 00:00:00 UTC)), (0, 0));
        assert_eq!(cell(datetime!(2026-03-02 00:59:59.999 UTC)), (0, 0));
        assert_eq!(cell(datetime!(2026-03-02 01:00:00 UTC)), (0, 1));
        // Offsets are converted: 01:30 at +02:00 is Sunday 23:30 UTC.
        assert_eq!(cell(datetime!(2026-03-02 01:30 +02:00)), (6, 23));
    }

    #[test]
    fn grid_sums_buckets() {
        let g = grid([
            (datetime!(2026-03-02 09:00 UTC), 2),
            (datetime!(2026-03-09 09:00 UTC), 3),
            (datetime!(2026-03-03 00:00 UTC), 1),
        ]);
        assert_eq!(g[0][9], 5);
        assert_eq!(g[1][0], 1);
        assert_eq!(g.iter().flatten().sum::<i64>(), 6);
    }
}
