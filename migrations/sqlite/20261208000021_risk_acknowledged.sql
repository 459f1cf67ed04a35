-- When the user confirmed having read the investment risk disclosure (/risk): asked once,
-- before their first live (real money) broker connection.
ALTER TABLE users ADD COLUMN risk_acknowledged_at BIGINT;
