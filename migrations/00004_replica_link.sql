-- What a replica reports about its link with its primary, so that
-- failover promotes only a replica that was streaming from it.

-- +goose Up
-- '' (a primary, or a node too old to report it), 'up' or 'down'.
ALTER TABLE placements ADD COLUMN link_status text NOT NULL DEFAULT '';
-- when the replica last reported its link up: after the primary's node
-- dies every link is down, and this tells who was in sync until then.
ALTER TABLE placements ADD COLUMN link_up_at timestamptz;

-- +goose Down
ALTER TABLE placements DROP COLUMN link_up_at;
ALTER TABLE placements DROP COLUMN link_status;
