-- Every action of the cleanup executor, written BEFORE it happens (state 'planned') and updated after.
-- A row left 'planned' by a killed run is settled by the next run's reconcile().
create schema if not exists symphony;

create table if not exists symphony.cleanup_audit (
    id bigserial primary key,
    run_id text not null,
    codebase text not null,
    path text not null,
    action text not null check (action in ('dry_run', 'quarantine', 'refuse', 'restore')),
    state text not null check (state in ('planned', 'done', 'failed', 'reverted')),
    size bigint,
    sha256 text,
    rule text,
    tracked boolean not null default false,
    message text,
    at timestamp with time zone not null default now(),
    updated_at timestamp with time zone
);

create index if not exists cleanup_audit_codebase_state on symphony.cleanup_audit (codebase, state);
create index if not exists cleanup_audit_codebase_run on symphony.cleanup_audit (codebase, run_id);
