-- Scoped tokens: what each personal token may do within its person's role (api::TokenScopes as
-- JSON; '{}' is unscoped, as every token issued before this was), and the token each history
-- entry was made with (its label; for a console session, the token it was signed in with).
ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(scopes) AND json_type(scopes) = 'object');
ALTER TABLE purges ADD COLUMN token TEXT;
