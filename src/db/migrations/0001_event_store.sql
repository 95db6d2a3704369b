-- The event store: streams, the append-only log, command idempotency and snapshots.
-- See docs/architecture.md, "Event store invariants".

CREATE TABLE streams (
  stream_id   text PRIMARY KEY,
  stream_type text NOT NULL,
  version     integer NOT NULL CHECK (version >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  -- Room for stream-level metadata (soft delete, retention, tenant …).
  deleted_at  timestamptz,
  metadata    jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE events (
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id        uuid NOT NULL UNIQUE,
  stream_id       text NOT NULL,
  stream_type     text NOT NULL,
  event_type      text NOT NULL,
  schema_version  integer NOT NULL CHECK (schema_version >= 1),
  stream_version  integer NOT NULL CHECK (stream_version >= 1),
  data            jsonb NOT NULL,
  metadata        jsonb NOT NULL,
  correlation_id  text,
  causation_id    text,
  -- The writing transaction: readers see an event only once every older transaction has
  -- ended, and read in (transaction_id, global_position) order (invariant 5).
  transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_version UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_commit_order ON events (transaction_id, global_position);
CREATE INDEX events_by_type ON events (event_type, transaction_id, global_position);
CREATE INDEX events_by_stream_type ON events (stream_type, transaction_id, global_position);
CREATE INDEX events_by_correlation ON events (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX events_by_time ON events USING brin (recorded_at);

-- Append-only, enforced below the application too.
CREATE FUNCTION strata_events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only (% refused)', TG_OP USING ERRCODE = 'SX009';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION strata_events_are_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION strata_events_are_immutable();

-- One row per command id: its input fingerprint and the result it produced.
CREATE TABLE processed_commands (
  command_id   uuid PRIMARY KEY,
  request_hash text NOT NULL,
  result       jsonb NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE snapshots (
  stream_id      text NOT NULL,
  version        integer NOT NULL,
  schema_version integer NOT NULL,
  state          jsonb NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_id, schema_version, version)
);

-- Appends the events of one command, to one or more streams, in a single statement (one
-- round trip, atomic on its own): idempotency record, expectation checks, events, stream
-- versions and the wake-up NOTIFY. Errors use SQLSTATE class SX, decoded by the store:
--   SX001 idempotency conflict (DETAIL: command id)
--   SX002 wrong expected version (DETAIL: json {streamId, expected, actual})
--
-- Readers order the log by (transaction_id, global_position), so within one stream the
-- transaction ids must rise with the versions. A transaction id is handed out at the first
-- write (or pg_current_xact_id()), and a row lock is itself a write: so the function first
-- takes a transaction-scoped advisory lock per stream (in a fixed order; advisory locks
-- assign no transaction id) and only then does anything that assigns one. The previous
-- writer of a stream has therefore committed, with a smaller id, before this one gets its
-- id. This holds when strata_append is the first write of its transaction (as
-- EventStore.append runs it: one statement on its own).
--
-- p_streams: [{streamId, streamType, expected: 'any'|'no_stream'|'stream_exists'|'<n>',
--              events: [{eventId, type, schemaVersion, data, metadata}]}]
-- p_notify: send the wake-up NOTIFY from inside the transaction. A process that wakes
-- its readers itself after commit (coalesced, see src/live/notifier.ts) passes false:
-- PostgreSQL serialises the commits of all notifying transactions on one lock.
CREATE FUNCTION strata_append(p_command_id uuid, p_request_hash text, p_streams jsonb,
                              p_notify boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  s          jsonb;
  v_stream   text;
  v_expected text;
  v_current  integer;
  v_exists   boolean;
  v_count    integer;
  v_txid     xid8;
  v_streams  jsonb := '[]';
  v_events   jsonb := '[]';
  v_inserted jsonb;
  v_result   jsonb;
  v_previous processed_commands%ROWTYPE;
BEGIN
  -- Stream locks first, before any transaction id exists (see above). Class 1398034497
  -- ('STRA') keeps these two-key locks apart from other advisory locks. Sorted, so two
  -- multi-stream appends cannot deadlock.
  PERFORM pg_advisory_xact_lock(1398034497, h)
  FROM (SELECT DISTINCT hashtext(value->>'streamId') AS h FROM jsonb_array_elements(p_streams) ORDER BY 1) AS k;

  IF p_command_id IS NOT NULL THEN
    -- A concurrent twin of this command (maybe aimed at other streams, e.g. a server-chosen
    -- id) waits here until the first commits or aborts, then sees its record.
    PERFORM pg_advisory_xact_lock(1398034498, hashtext(p_command_id::text));
    SELECT * INTO v_previous FROM processed_commands WHERE command_id = p_command_id;
    IF FOUND THEN
      IF v_previous.request_hash IS DISTINCT FROM p_request_hash THEN
        RAISE EXCEPTION 'command % was already used with different input', p_command_id
          USING ERRCODE = 'SX001', DETAIL = p_command_id::text;
      END IF;
      RETURN v_previous.result || '{"duplicate": true}';
    END IF;
  END IF;
  v_txid := pg_current_xact_id();

  FOR s IN SELECT value FROM jsonb_array_elements(p_streams) LOOP
    v_stream := s->>'streamId';
    v_expected := s->>'expected';
    v_count := jsonb_array_length(s->'events');
    -- The stream's advisory lock serialises its writers, so a plain read is current.
    SELECT version INTO v_current FROM streams WHERE stream_id = v_stream;
    v_exists := FOUND;
    IF NOT v_exists THEN
      v_current := 0;
    END IF;
    IF (v_expected = 'no_stream' AND v_exists)
       OR (v_expected = 'stream_exists' AND NOT v_exists)
       OR (v_expected NOT IN ('any', 'no_stream', 'stream_exists') AND v_current <> v_expected::integer) THEN
      RAISE EXCEPTION 'stream % expected version %, actual %', v_stream, v_expected, v_current
        USING ERRCODE = 'SX002',
              DETAIL = jsonb_build_object('streamId', v_stream, 'expected', v_expected, 'actual', v_current)::text;
    END IF;
    IF v_exists THEN
      UPDATE streams SET version = v_current + v_count, updated_at = now() WHERE stream_id = v_stream;
    ELSE
      INSERT INTO streams (stream_id, stream_type, version) VALUES (v_stream, s->>'streamType', v_count);
    END IF;

    WITH ins AS (
      INSERT INTO events (event_id, stream_id, stream_type, event_type, schema_version,
                          stream_version, data, metadata, correlation_id, causation_id, transaction_id)
      SELECT (e->>'eventId')::uuid, v_stream, s->>'streamType', e->>'type', (e->>'schemaVersion')::integer,
             v_current + ord::integer, e->'data', e->'metadata',
             e->'metadata'->>'correlationId', e->'metadata'->>'causationId', v_txid
      FROM jsonb_array_elements(s->'events') WITH ORDINALITY AS t(e, ord)
      ORDER BY ord
      RETURNING event_id, stream_version, global_position
    )
    SELECT jsonb_agg(jsonb_build_array(event_id, stream_version, global_position) ORDER BY global_position)
      INTO v_inserted FROM ins;
    v_events := v_events || jsonb_build_array(v_inserted);
    v_streams := v_streams || jsonb_build_array(jsonb_build_object('streamId', v_stream, 'version', v_current + v_count));
  END LOOP;

  -- A wake-up only: no event data (8000-byte limit; and it is never replayed).
  IF p_notify THEN
    PERFORM pg_notify('strata_events', '');
  END IF;

  v_result := jsonb_build_object('transactionId', v_txid::text, 'streams', v_streams, 'events', v_events);
  IF p_command_id IS NOT NULL THEN
    INSERT INTO processed_commands (command_id, request_hash, result)
    VALUES (p_command_id, p_request_hash, v_result);
  END IF;
  RETURN v_result || '{"duplicate": false}';
END $$;
