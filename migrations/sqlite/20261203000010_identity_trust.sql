-- Identity you can trust (issue 12): verified emails, throttle housekeeping.

-- Whether this provider only ever asserts emails it has verified (Okta: its users' primary
-- emails are admin- or owner-controlled). Email rules trust such a provider's emails without
-- an `email_verified` claim. Off for generic OIDC: anyone may self-register any address there.
ALTER TABLE identity_providers ADD COLUMN asserts_verified_email BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE identity_providers SET asserts_verified_email = TRUE WHERE kind = 'okta';

-- Whether the provider said `email_verified: true` for the email stored with this identity.
ALTER TABLE user_identities ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

-- Whether the account's email is one someone proved they own. Local accounts are made by an
-- admin: verified. Only a verified account email may be linked to by a new sign-in.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT TRUE;

CREATE INDEX IF NOT EXISTS user_identities_provider ON user_identities (provider_id);

-- Throttle rows are purged once their window and block are over: found through this index.
CREATE INDEX IF NOT EXISTS login_throttle_window ON login_throttle (window_started_at);
