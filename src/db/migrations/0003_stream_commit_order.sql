-- Replays of one stream in commit order (live subscriptions from a cursor) read by
-- (stream_id, transaction_id, global_position) rather than scanning the whole log.
CREATE INDEX events_by_stream_commit ON events (stream_id, transaction_id, global_position);
