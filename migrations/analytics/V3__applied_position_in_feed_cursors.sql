-- The last event the analytics projection applied moves from `projection_state` to
-- `feed_cursors` (row `analytics:applied`), beside the consumer's own cursor, so that one
-- cursor store (platform::feed) serves both.
--
-- A rolling upgrade neither loses nor double-counts: the copy below carries the position
-- over; an instance of the previous release that applies a page afterwards still takes the
-- consumer's cursor row lock and reads only after that cursor, so whichever release applies
-- the next page applies only events after every event already counted. A stale copy can
-- only be lower than the truth, which never skips an event that was not applied.
--
-- `projection_state` stays (unused by this release) until no instance of the previous
-- release runs; a later migration drops it.
INSERT INTO feed_cursors (consumer, cursor, updated_at)
SELECT projection || ':applied', applied_through, updated_at
  FROM projection_state
 WHERE projection = 'analytics'
ON CONFLICT (consumer) DO NOTHING;
