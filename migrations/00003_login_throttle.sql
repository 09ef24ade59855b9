-- Failed log-ins per e-mail address and per client address, so every
-- control-plane instance slows and refuses the same guessing.

-- +goose Up
CREATE TABLE login_failures (
    scope        text NOT NULL CHECK (scope IN ('email', 'address')),
    -- the lower-cased e-mail (whether or not an account has it, so a
    -- lockout never tells which exist) or the client's IP (IPv6: its /64)
    subject      text NOT NULL,
    failures     integer NOT NULL,
    last_failure timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (scope, subject)
);
CREATE INDEX login_failures_last ON login_failures (last_failure);

-- +goose Down
DROP TABLE login_failures;
