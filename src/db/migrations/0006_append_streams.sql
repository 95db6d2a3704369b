-- The append of several streams at once, set-based. strata_append (migration 0001) loops
-- over a jsonb document, stream by stream: a read, a write and an INSERT … RETURNING per
-- stream, and a jsonb concatenation per stream for the result. That is fine for a command
-- with a companion stream, and slow for a unit of work (docs/adr/0010) that commits the
-- work of many orders, eighty streams and hundreds of events, in one transaction: ~20 ms.
-- This function takes typed arrays, reads every stream's version in one statement, writes
-- the stream rows in one upsert and the events in one INSERT. Same semantics, same SX
-- errors, same stored result, same locks (class 1398034497 on hashtext(stream id), sorted,
-- then class 1398034498 on the command id) as strata_append and strata_append_stream, so
-- all three interoperate.
--
-- Commit order (docs/adr/0002): the locks are taken before anything that assigns a
-- transaction id, so every earlier writer of these streams has committed, with a smaller
-- id, before this one gets its id. As with the others, this holds when the call is the
-- first write of its transaction.
--
-- Streams: p_stream_ids, p_stream_types, p_expected ('any' | 'no_stream' |
-- 'stream_exists' | '<n>'), one element per stream, no stream twice. Events: one element
-- per event in p_event_streams (the 1-based index of its stream), p_event_ids,
-- p_event_types, p_schema_versions, p_data, p_metadata; each stream's events in version
-- order, every stream with at least one event, 1 … 1000 events in all (checked). The
-- events are written stream by stream, in the order of p_stream_ids.
CREATE FUNCTION strata_append_streams(p_command_id uuid, p_request_hash text,
                                      p_stream_ids text[], p_stream_types text[], p_expected text[],
                                      p_event_streams integer[], p_event_ids uuid[],
                                      p_event_types text[], p_schema_versions integer[],
                                      p_data jsonb[], p_metadata jsonb[],
                                      p_notify boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_streams  integer := cardinality(p_stream_ids);
  v_count    integer := cardinality(p_event_ids);
  v_current  integer[];
  v_exists   boolean[];
  v_counts   integer[];
  v_txid     xid8;
  v_events   jsonb;
  v_result   jsonb;
  v_hash     text;
  v_previous jsonb;
  i          integer;
BEGIN
  IF v_streams IS NULL OR v_streams < 1
     OR cardinality(p_stream_types) IS DISTINCT FROM v_streams
     OR cardinality(p_expected) IS DISTINCT FROM v_streams
     OR v_count IS NULL OR v_count < v_streams OR v_count > 1000
     OR cardinality(p_event_streams) IS DISTINCT FROM v_count
     OR cardinality(p_event_types) IS DISTINCT FROM v_count
     OR cardinality(p_schema_versions) IS DISTINCT FROM v_count
     OR cardinality(p_data) IS DISTINCT FROM v_count
     OR cardinality(p_metadata) IS DISTINCT FROM v_count THEN
    RAISE EXCEPTION 'strata_append_streams: stream arrays and event arrays must have matching lengths';
  END IF;

  -- Events per stream: every stream has some, and every event names a stream.
  SELECT array_agg(coalesce(c.n, 0)::integer ORDER BY s.k) INTO v_counts
  FROM generate_series(1, v_streams) AS s(k)
  LEFT JOIN (SELECT e AS k, count(*) AS n FROM unnest(p_event_streams) AS e GROUP BY e) AS c USING (k);
  IF 0 = ANY (v_counts)
     OR (SELECT sum(n) FROM unnest(v_counts) AS n) <> v_count
     OR (SELECT count(DISTINCT id) FROM unnest(p_stream_ids) AS id) <> v_streams THEN
    RAISE EXCEPTION 'strata_append_streams: each stream once, each with events, each event in a stream';
  END IF;

  -- Stream locks first, before any transaction id exists (see above), sorted so that two
  -- multi-stream appends cannot deadlock.
  PERFORM pg_advisory_xact_lock(1398034497, h)
  FROM (SELECT DISTINCT hashtext(id) AS h FROM unnest(p_stream_ids) AS id ORDER BY 1) AS k;

  IF p_command_id IS NOT NULL THEN
    -- A concurrent twin of this command waits here until the first commits or aborts,
    -- then sees its record.
    PERFORM pg_advisory_xact_lock(1398034498, hashtext(p_command_id::text));
    SELECT request_hash, result INTO v_hash, v_previous
    FROM processed_commands WHERE command_id = p_command_id;
    IF v_hash IS NOT NULL THEN
      IF v_hash IS DISTINCT FROM p_request_hash THEN
        RAISE EXCEPTION 'command % was already used with different input', p_command_id
          USING ERRCODE = 'SX001', DETAIL = p_command_id::text;
      END IF;
      RETURN v_previous || '{"duplicate": true}';
    END IF;
  END IF;

  -- Every stream's version in one read (their locks serialise their writers, so it is
  -- current). No transaction id yet.
  SELECT array_agg(coalesce(s.version, 0) ORDER BY t.k), array_agg(s.version IS NOT NULL ORDER BY t.k)
    INTO v_current, v_exists
  FROM unnest(p_stream_ids) WITH ORDINALITY AS t(id, k)
  LEFT JOIN streams s ON s.stream_id = t.id;
  FOR i IN 1 .. v_streams LOOP
    IF (p_expected[i] = 'no_stream' AND v_exists[i])
       OR (p_expected[i] = 'stream_exists' AND NOT v_exists[i])
       OR (p_expected[i] NOT IN ('any', 'no_stream', 'stream_exists') AND v_current[i] <> p_expected[i]::integer) THEN
      RAISE EXCEPTION 'stream % expected version %, actual %', p_stream_ids[i], p_expected[i], v_current[i]
        USING ERRCODE = 'SX002',
              DETAIL = jsonb_build_object('streamId', p_stream_ids[i], 'expected', p_expected[i], 'actual', v_current[i])::text;
    END IF;
  END LOOP;

  -- The first write: the transaction id is assigned here, under the stream locks.
  INSERT INTO streams (stream_id, stream_type, version)
  SELECT p_stream_ids[k], p_stream_types[k], v_current[k] + v_counts[k]
  FROM generate_series(1, v_streams) AS k
  ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, updated_at = now();
  v_txid := pg_current_xact_id();

  -- One pass over the event arrays (unnest, not a subscript per column and row: an
  -- element of a jsonb[] is found by walking the array from its start).
  WITH ev AS (
    SELECT e.*, row_number() OVER (PARTITION BY e.k ORDER BY e.n)::integer AS r
    FROM unnest(p_event_streams, p_event_ids, p_event_types, p_schema_versions, p_data, p_metadata)
         WITH ORDINALITY AS e(k, event_id, event_type, schema_version, data, metadata, n)
  ), ins AS (
    INSERT INTO events (event_id, stream_id, stream_type, event_type, schema_version,
                        stream_version, data, metadata, correlation_id, causation_id, transaction_id)
    SELECT ev.event_id, p_stream_ids[ev.k], p_stream_types[ev.k], ev.event_type,
           ev.schema_version, v_current[ev.k] + ev.r, ev.data, ev.metadata,
           ev.metadata->>'correlationId', ev.metadata->>'causationId', v_txid
    FROM ev
    ORDER BY ev.k, ev.r
    RETURNING stream_id, event_id, stream_version, global_position
  ), per_stream AS (
    SELECT array_position(p_stream_ids, stream_id) AS k,
           jsonb_agg(jsonb_build_array(event_id, stream_version, global_position) ORDER BY global_position) AS evs
    FROM ins GROUP BY stream_id
  )
  SELECT jsonb_agg(evs ORDER BY k) INTO v_events FROM per_stream;

  -- A wake-up only: no event data (8000-byte limit; and it is never replayed).
  IF p_notify THEN
    PERFORM pg_notify('strata_events', '');
  END IF;

  v_result := jsonb_build_object(
    'transactionId', v_txid::text,
    'streams', (SELECT jsonb_agg(jsonb_build_object('streamId', p_stream_ids[k], 'version', v_current[k] + v_counts[k]) ORDER BY k)
                FROM generate_series(1, v_streams) AS k),
    'events', v_events);
  IF p_command_id IS NOT NULL THEN
    INSERT INTO processed_commands (command_id, request_hash, result)
    VALUES (p_command_id, p_request_hash, v_result);
  END IF;
  -- As strata_append_stream: the duplicate key only on a replay.
  RETURN v_result;
END $$;
