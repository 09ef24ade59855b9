-- A database whose provisioning failed is retried by the reconciler with
-- back-off; this counts the automatic retries since the last manual one.

-- +goose Up
ALTER TABLE databases ADD COLUMN provision_attempts integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE databases DROP COLUMN provision_attempts;
