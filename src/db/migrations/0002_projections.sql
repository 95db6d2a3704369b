-- Projection bookkeeping: one row per (projection, generation). A generation is one full
-- build of a projection's read tables (`<table>_g<generation>`); the active generation is
-- what the plain view `<table>` shows, so a rebuild fills a new generation while the old
-- one keeps serving, then switches every view in one transaction.
CREATE TABLE projections (
  name                text NOT NULL,
  generation          integer NOT NULL,
  -- Version of the projection's code that built this generation.
  code_version        integer NOT NULL,
  active              boolean NOT NULL DEFAULT false,
  -- running | rebuilding | paused | stopped (on a poison event) | retired
  state               text NOT NULL,
  -- The checkpoint: the last event applied, in commit order.
  checkpoint_txid     xid8 NOT NULL DEFAULT '0',
  checkpoint_position bigint NOT NULL DEFAULT 0,
  events_processed    bigint NOT NULL DEFAULT 0,
  -- The poison event that stopped it: {eventId, cursor, type, message}.
  error               jsonb,
  -- Lease: one runner per generation across processes.
  lease_owner         text,
  lease_until         timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, generation)
);
CREATE UNIQUE INDEX projections_one_active ON projections (name) WHERE active;
