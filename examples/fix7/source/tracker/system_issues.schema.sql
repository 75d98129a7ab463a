-- system_issues: the production issue tracker table (schema export)
CREATE TABLE system_issues (
    id          bigserial PRIMARY KEY,
    ticket      text NOT NULL UNIQUE,
    status      text NOT NULL CHECK (status IN ('open', 'closed', 'blocked')),
    opened_at   timestamptz NOT NULL,
    closed_at   timestamptz
);
-- Writers: the Directus automation role (system_issues_sync) and the on-call rota.
