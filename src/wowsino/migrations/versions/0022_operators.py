"""Operator accounts for the console: roles, brand scope, invitations, two-factor sign-in,
lockout after repeated failures; console sessions of an operator, idle and revocable.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A person who signs in to the console for one tenant. The email is unique per tenant
-- in any case (email_key is its case-folded form). A platform table like tenants: an
-- operator works in both modes of the tenant.
--   role: what the operator may do (console/permissions.py holds the table).
--   brand_ids: the brands whose players the operator sees; empty: every brand.
--   status: invited (no password yet), active, disabled (cannot sign in).
--   password_hash: argon2id; NULL until the invitation is accepted.
--   invitation_hash: SHA-256 of the one-time token of the invitation link; cleared
--   when it is used. invitation_expires_at: the link stops working then.
--   totp_secret: the shared secret of the authenticator app, once two-factor sign-in is
--   on (totp_pending_secret while it is being set up); totp_last_step: the last time
--   step a code was accepted for, so a code works once.
--   recovery_codes: SHA-256 of each one-use recovery code not yet used.
--   failed_sign_ins / locked_until: repeated failures lock the account for a while.
CREATE TABLE operators (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    email_key text NOT NULL,
    display_name text CHECK (length(display_name) <= 100),
    role text NOT NULL
        CHECK (role IN ('owner', 'admin', 'compliance', 'support', 'marketing', 'analyst')),
    brand_ids uuid[] NOT NULL DEFAULT '{}',
    status text NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    password_hash text,
    password_changed_at timestamptz,
    invitation_hash bytea,
    invitation_expires_at timestamptz,
    totp_secret text,
    totp_pending_secret text,
    totp_last_step bigint,
    recovery_codes bytea[] NOT NULL DEFAULT '{}',
    failed_sign_ins integer NOT NULL DEFAULT 0 CHECK (failed_sign_ins >= 0),
    locked_until timestamptz,
    invited_by text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    last_sign_in_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email_key),
    UNIQUE (tenant_id, invitation_hash),
    CHECK (status = 'invited' OR password_hash IS NOT NULL)
);
-- sign-in and an invitation link find an operator before the tenant is known
CREATE INDEX operators_by_email ON operators (email_key);
CREATE INDEX operators_by_invitation ON operators (invitation_hash)
    WHERE invitation_hash IS NOT NULL;

-- A tenant's console rules, set by its owners: whether two-factor sign-in is required.
CREATE TABLE operator_policies (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    require_2fa boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);

-- Console sessions of operators beside those of the platform admin (operator_id NULL,
-- token_fingerprint set). A session ends after 30 minutes without a request (idle) as
-- well as 12 hours after it began; stage 'mfa' is a sign-in waiting for its second
-- factor, good for nothing else. public_id names a session on the sessions page.
ALTER TABLE console_sessions ALTER COLUMN token_fingerprint DROP NOT NULL;
ALTER TABLE console_sessions ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE console_sessions ADD COLUMN tenant_id uuid;
ALTER TABLE console_sessions ADD COLUMN operator_id uuid;
ALTER TABLE console_sessions ADD COLUMN stage text NOT NULL DEFAULT 'active'
    CHECK (stage IN ('mfa', 'active'));
ALTER TABLE console_sessions ADD COLUMN last_seen_at timestamptz;
ALTER TABLE console_sessions ADD COLUMN user_agent text CHECK (length(user_agent) <= 300);
UPDATE console_sessions SET last_seen_at = created_at;
ALTER TABLE console_sessions ALTER COLUMN last_seen_at SET NOT NULL;
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_operator
    FOREIGN KEY (tenant_id, operator_id) REFERENCES operators (tenant_id, id);
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_holder
    CHECK ((operator_id IS NULL) = (tenant_id IS NULL)
           AND (operator_id IS NOT NULL OR token_fingerprint IS NOT NULL));
ALTER TABLE console_sessions DROP CONSTRAINT console_sessions_end_reason_check;
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_end_reason_check
    CHECK (end_reason IN ('signed_out', 'token_changed', 'idle', 'revoked',
                          'password_changed', 'operator_disabled', 'second_factor'));
CREATE UNIQUE INDEX console_sessions_public_id ON console_sessions (public_id);
CREATE INDEX console_sessions_of_operator ON console_sessions (tenant_id, operator_id)
    WHERE ended_at IS NULL AND operator_id IS NOT NULL;
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
