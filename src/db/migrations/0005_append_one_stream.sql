-- The append of one command to one stream, the common case, without the jsonb document of
-- strata_append (migration 0001): the events come as typed arrays (no jsonb_array_elements
-- loop, no ORDER BY, no CTE for one event), the stream lock is one call, and the result is
-- built once. Same semantics, same SX errors, same stored result as strata_append, which
-- stays for appends that cover several streams; both take the same locks (class 1398034497
-- on hashtext(stream id), then class 1398034498 on the command id), so they interoperate.
--
-- Commit order (docs/adr/0002): the stream's advisory lock, then the command's, are taken
-- before anything that assigns a transaction id (the processed_commands read does not), so
-- the previous writer of the stream has committed, with a smaller id, before this one gets
-- its id. As with strata_append, this holds when the call is the first write of its
-- transaction.
--
-- p_expected: 'any' | 'no_stream' | 'stream_exists' | '<n>'. The event arrays have one
-- element per event, in version order; p_event_ids, p_event_types, p_schema_versions,
-- p_data and p_metadata must have the same length (1 … 1000; checked).
CREATE FUNCTION strata_append_stream(p_command_id uuid, p_request_hash text, p_stream_id text,
                                     p_stream_type text, p_expected text, p_event_ids uuid[],
                                     p_event_types text[], p_schema_versions integer[],
                                     p_data jsonb[], p_metadata jsonb[],
                                     p_notify boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_count    integer := cardinality(p_event_ids);
  v_current  integer;
  v_exists   boolean;
  v_txid     xid8;
  v_position bigint;
  v_events   jsonb;
  v_result   jsonb;
  v_hash     text;
  v_previous jsonb;
BEGIN
  IF v_count IS NULL OR v_count < 1 OR v_count > 1000
     OR cardinality(p_event_types) IS DISTINCT FROM v_count
     OR cardinality(p_schema_versions) IS DISTINCT FROM v_count
     OR cardinality(p_data) IS DISTINCT FROM v_count
     OR cardinality(p_metadata) IS DISTINCT FROM v_count THEN
    RAISE EXCEPTION 'strata_append_stream: event arrays must have equal lengths of 1 to 1000';
  END IF;

  -- The stream lock first, before any transaction id exists (see above).
  PERFORM pg_advisory_xact_lock(1398034497, hashtext(p_stream_id));

  -- A concurrent twin of this command (maybe aimed at another stream) waits here until
  -- the first commits or aborts, then sees its record.
  IF p_command_id IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(1398034498, hashtext(p_command_id::text));
  END IF;

  -- Both locks are held: one read for the stream's version (its lock serialises its
  -- writers, so a plain read is current) and the command's record. No transaction id yet.
  SELECT s.version, c.request_hash, c.result INTO v_current, v_hash, v_previous
  FROM (SELECT) AS one
  LEFT JOIN streams s ON s.stream_id = p_stream_id
  LEFT JOIN processed_commands c ON c.command_id = p_command_id;
  IF v_hash IS NOT NULL THEN
    IF v_hash IS DISTINCT FROM p_request_hash THEN
      RAISE EXCEPTION 'command % was already used with different input', p_command_id
        USING ERRCODE = 'SX001', DETAIL = p_command_id::text;
    END IF;
    RETURN v_previous || '{"duplicate": true}';
  END IF;
  v_exists := v_current IS NOT NULL;
  IF NOT v_exists THEN
    v_current := 0;
  END IF;
  IF (p_expected = 'no_stream' AND v_exists)
     OR (p_expected = 'stream_exists' AND NOT v_exists)
     OR (p_expected NOT IN ('any', 'no_stream', 'stream_exists') AND v_current <> p_expected::integer) THEN
    RAISE EXCEPTION 'stream % expected version %, actual %', p_stream_id, p_expected, v_current
      USING ERRCODE = 'SX002',
            DETAIL = jsonb_build_object('streamId', p_stream_id, 'expected', p_expected, 'actual', v_current)::text;
  END IF;

  -- The first write: the transaction id is assigned here, under the stream lock.
  IF v_exists THEN
    UPDATE streams SET version = v_current + v_count, updated_at = now() WHERE stream_id = p_stream_id;
  ELSE
    INSERT INTO streams (stream_id, stream_type, version) VALUES (p_stream_id, p_stream_type, v_count);
  END IF;
  v_txid := pg_current_xact_id();

  IF v_count = 1 THEN
    INSERT INTO events (event_id, stream_id, stream_type, event_type, schema_version,
                        stream_version, data, metadata, correlation_id, causation_id, transaction_id)
    VALUES (p_event_ids[1], p_stream_id, p_stream_type, p_event_types[1], p_schema_versions[1],
            v_current + 1, p_data[1], p_metadata[1],
            p_metadata[1]->>'correlationId', p_metadata[1]->>'causationId', v_txid)
    RETURNING global_position INTO v_position;
    v_events := jsonb_build_array(jsonb_build_array(jsonb_build_array(p_event_ids[1], v_current + 1, v_position)));
  ELSE
    WITH ins AS (
      INSERT INTO events (event_id, stream_id, stream_type, event_type, schema_version,
                          stream_version, data, metadata, correlation_id, causation_id, transaction_id)
      SELECT p_event_ids[i], p_stream_id, p_stream_type, p_event_types[i], p_schema_versions[i],
             v_current + i, p_data[i], p_metadata[i],
             p_metadata[i]->>'correlationId', p_metadata[i]->>'causationId', v_txid
      FROM generate_series(1, v_count) AS i
      ORDER BY i
      RETURNING event_id, stream_version, global_position
    )
    SELECT jsonb_build_array(jsonb_agg(jsonb_build_array(event_id, stream_version, global_position) ORDER BY global_position))
      INTO v_events FROM ins;
  END IF;

  -- A wake-up only: no event data (8000-byte limit; and it is never replayed).
  IF p_notify THEN
    PERFORM pg_notify('strata_events', '');
  END IF;

  v_result := jsonb_build_object(
    'transactionId', v_txid::text,
    'streams', jsonb_build_array(jsonb_build_object('streamId', p_stream_id, 'version', v_current + v_count)),
    'events', v_events);
  IF p_command_id IS NOT NULL THEN
    INSERT INTO processed_commands (command_id, request_hash, result)
    VALUES (p_command_id, p_request_hash, v_result);
  END IF;
  -- Unlike strata_append, no '"duplicate": false' is added (a jsonb concatenation per call):
  -- the key is only present, and true, on a replay.
  RETURN v_result;
END $$;
