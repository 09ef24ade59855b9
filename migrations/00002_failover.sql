-- Failover: every promotion of a replica with its timings, and what the
-- control plane needs to judge node health and fence stale primaries.

-- +goose Up
CREATE TABLE failovers (
    id                  bigserial PRIMARY KEY,
    database_id         text NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    shard_id            text NOT NULL REFERENCES shards (id) ON DELETE CASCADE,
    reason              text NOT NULL CHECK (reason IN ('node_down', 'manual', 'manual_forced')),
    from_node           text NOT NULL,
    to_node             text NOT NULL,
    from_address        text NOT NULL,
    to_address          text NOT NULL,
    old_epoch           bigint NOT NULL,
    new_epoch           bigint NOT NULL,
    -- the promoted replica's offset and its lag behind the old primary
    -- as last reported, in bytes (0 when the primary never reported)
    repl_offset         bigint NOT NULL DEFAULT 0,
    lag_bytes           bigint NOT NULL DEFAULT 0,
    detected_at         timestamptz NOT NULL,
    routes_published_at timestamptz NOT NULL DEFAULT now(),
    -- when the new primary's node reported it serving as primary at the
    -- new epoch
    promoted_at         timestamptz
);
CREATE INDEX failovers_database ON failovers (database_id, id);
CREATE INDEX failovers_pending ON failovers (shard_id) WHERE promoted_at IS NULL;

-- The last time an active probe of the node got an answer, written by the
-- leading control plane; a node is down when both this and its heartbeat
-- are older than the failover timeout.
ALTER TABLE nodes ADD COLUMN last_probe_ok timestamptz;
-- when the node was last marked down (detected_at of its failovers)
ALTER TABLE nodes ADD COLUMN down_at timestamptz;

-- +goose Down
ALTER TABLE nodes DROP COLUMN down_at;
ALTER TABLE nodes DROP COLUMN last_probe_ok;
DROP TABLE failovers;
