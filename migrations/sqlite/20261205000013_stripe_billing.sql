-- Stripe billing. A user's Stripe customer, every subscription Stripe has told us about
-- (a user can briefly have two: a second checkout finished before the first was seen),
-- and the webhook events already applied, so a replay changes nothing.
ALTER TABLE users ADD COLUMN stripe_customer_id TEXT;
CREATE UNIQUE INDEX users_stripe_customer ON users (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;

CREATE TABLE subscriptions (
    -- Stripe's subscription id (sub_…).
    id                   TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    customer_id          TEXT NOT NULL,
    price_id             TEXT NOT NULL,
    -- The tier the price buys; NULL for a price id this install does not sell.
    tier                 TEXT CHECK (tier IN ('free', 'basic', 'pro', 'premium')),
    -- Stripe's status: trialing, active, past_due, canceled, unpaid, incomplete, …
    status               TEXT NOT NULL,
    -- Epoch milliseconds.
    current_period_end   BIGINT,
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
    -- Stripe's `created` of the subscription, epoch seconds: the newer one wins.
    created              BIGINT NOT NULL,
    -- `created` (epoch seconds) of the newest event applied: an older event changes nothing.
    event_created        BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX subscriptions_user ON subscriptions (user_id);

CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
