-- An e-mail address counts as its owner's once verified (the e-mail issue sends the
-- verification); only a verified address can be made admin by the admin_email setting.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
