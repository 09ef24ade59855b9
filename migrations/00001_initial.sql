-- The control plane's schema: tenants, their databases and where those run.

-- +goose Up
CREATE TABLE accounts (
    id            text PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- E-mail addresses are compared case-insensitively.
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,          -- the first characters, shown in lists
    secret_hash  bytea NOT NULL UNIQUE,  -- sha256 of the whole key
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- A session is one log-in: its refresh token rotates on every refresh, and
-- revoking the session ends the access tokens issued under it too.
CREATE TABLE sessions (
    id                  text PRIMARY KEY,
    account_id          text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    refresh_hash        bytea NOT NULL UNIQUE,
    -- the hash rotated away last: presenting it again means the token was
    -- copied, so the whole session is revoked.
    previous_hash       bytea UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    refreshed_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE plans (
    name                    text PRIMARY KEY,
    memory_mb               integer NOT NULL CHECK (memory_mb > 0),  -- largest database
    max_shards              integer NOT NULL CHECK (max_shards >= 1),
    max_replicas            integer NOT NULL CHECK (max_replicas >= 0),
    max_connections         integer NOT NULL,
    ops_per_sec             integer NOT NULL,
    max_request_bytes       bigint  NOT NULL,
    bandwidth_bytes_per_sec bigint  NOT NULL,
    max_databases           integer NOT NULL,
    sort_order              integer NOT NULL
);
INSERT INTO plans VALUES
    ('free',        64,    1,  0,   30,    1000,   1048576,    1048576,   1, 1),
    ('starter',     1024,  2,  1,   250,   10000,  10485760,   10485760,  5, 2),
    ('pro',         8192,  8,  2,   2000,  100000, 104857600,  104857600, 25, 3),
    ('enterprise',  65536, 64, 2,   20000, 1000000, 536870912, 1073741824, 100, 4);

CREATE TABLE nodes (
    id             text PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    advertise      text NOT NULL,
    port_min       integer NOT NULL,
    port_max       integer NOT NULL CHECK (port_max >= port_min),
    memory_mb      bigint NOT NULL CHECK (memory_mb >= 0),
    version        text NOT NULL DEFAULT '',
    -- up | down (missed heartbeats) | draining (up, but takes no new
    -- shards); drain_requested survives the node going down and back up.
    status         text NOT NULL DEFAULT 'up' CHECK (status IN ('up', 'down', 'draining')),
    drain_requested boolean NOT NULL DEFAULT false,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    last_heartbeat timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE databases (
    id              text PRIMARY KEY,
    account_id      text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            text NOT NULL,
    plan            text NOT NULL REFERENCES plans (name),
    memory_mb       integer NOT NULL CHECK (memory_mb > 0),
    shards          integer NOT NULL CHECK (shards >= 1),
    replicas        integer NOT NULL CHECK (replicas >= 0),
    eviction_policy text NOT NULL,
    persistence     text NOT NULL CHECK (persistence IN ('none', 'rdb', 'aof-everysec', 'aof-always')),
    status          text NOT NULL CHECK (status IN ('provisioning', 'active', 'failed', 'deleting')),
    failure_reason  text NOT NULL DEFAULT '',
    password_enc    bytea NOT NULL,  -- AES-GCM: nonce || ciphertext
    password_digest text NOT NULL,   -- hex sha256, what proxies get
    provision_deadline timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX databases_account ON databases (account_id);
CREATE UNIQUE INDEX databases_account_name ON databases (account_id, name) WHERE status <> 'deleting';

CREATE TABLE shards (
    id           text PRIMARY KEY,
    database_id  text NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    idx          integer NOT NULL,
    slots        jsonb NOT NULL,   -- [{"start":0,"end":8191}, ...]
    epoch        bigint NOT NULL DEFAULT 1,
    password_enc bytea NOT NULL,   -- internal password (requirepass), AES-GCM
    UNIQUE (database_id, idx)
);

CREATE TABLE placements (
    shard_id      text NOT NULL REFERENCES shards (id) ON DELETE CASCADE,
    node_id       text NOT NULL REFERENCES nodes (id),
    port          integer NOT NULL,
    role          text NOT NULL CHECK (role IN ('primary', 'replica')),
    -- what the node last reported about this shard
    running       boolean NOT NULL DEFAULT false,
    reported_role text NOT NULL DEFAULT '',
    reported_epoch bigint NOT NULL DEFAULT 0,
    repl_offset   bigint NOT NULL DEFAULT 0,
    used_memory   bigint NOT NULL DEFAULT 0,
    keys          bigint NOT NULL DEFAULT 0,
    ops           bigint NOT NULL DEFAULT 0,
    connections   integer NOT NULL DEFAULT 0,
    error         text NOT NULL DEFAULT '',
    reported_at   timestamptz,
    PRIMARY KEY (shard_id, node_id),
    UNIQUE (node_id, port)
);
CREATE INDEX placements_node ON placements (node_id);

CREATE TABLE usage_minutes (
    database_id     text NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    minute          timestamptz NOT NULL,
    ops             bigint NOT NULL DEFAULT 0,
    bytes_in        bigint NOT NULL DEFAULT 0,
    bytes_out       bigint NOT NULL DEFAULT 0,
    connections_max integer NOT NULL DEFAULT 0,
    errors          bigint NOT NULL DEFAULT 0,
    rejected        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (database_id, minute)
);

-- Reports already rolled up, so a proxy's retry is not counted twice.
CREATE TABLE usage_reports (
    proxy_id     text NOT NULL,
    period_start timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proxy_id, period_start)
);

CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    account_id  text,
    database_id text,
    node_id     text,
    kind        text NOT NULL,
    message     text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_database ON events (database_id, at);

-- One row: bumped (and NOTIFY keyfleet_routes sent) in the transaction
-- that changes what proxies must serve.
CREATE TABLE route_version (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO route_version VALUES (1, 1);

-- +goose Down
DROP TABLE route_version;
DROP TABLE events;
DROP TABLE usage_reports;
DROP TABLE usage_minutes;
DROP TABLE placements;
DROP TABLE shards;
DROP TABLE databases;
DROP TABLE nodes;
DROP TABLE plans;
DROP TABLE sessions;
DROP TABLE api_keys;
DROP TABLE accounts;
