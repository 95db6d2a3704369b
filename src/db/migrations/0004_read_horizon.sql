-- The commit-order horizon of readers (invariant 5): an event is visible to readAll when
-- its transaction is older than every transaction still running *that could have written
-- to this database*. Transaction ids and snapshots are cluster-wide, so plain
-- pg_snapshot_xmin() would also wait for a long transaction in another database of the
-- same server. A running id is ignored only when it is positively known to belong to a
-- backend of another database (a backend never changes database); any id we cannot place
-- (e.g. it committed meanwhile) still holds readers back, so no event can be skipped.
-- STABLE: evaluated under the caller's snapshot, the one its scan of events uses.
CREATE FUNCTION strata_read_horizon() RETURNS xid8 LANGUAGE plpgsql STABLE AS $$
DECLARE
  s pg_snapshot := pg_current_snapshot();
  h xid8;
BEGIN
  SELECT min(x) INTO h
  FROM pg_snapshot_xip(s) AS x
  WHERE NOT EXISTS (
    SELECT 1 FROM pg_stat_get_activity(NULL) AS a
    WHERE a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
      AND a.backend_xid IS NOT NULL
      -- xid8 carries the epoch in its high 32 bits; backend_xid is the plain 32-bit xid.
      AND a.backend_xid::text = (x::text::numeric % 4294967296)::text
  );
  RETURN coalesce(h, pg_snapshot_xmax(s));
END $$;
