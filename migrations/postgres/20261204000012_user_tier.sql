-- The subscription tier a user's plans and broker keys are held to when billing is on
-- (`billing = true`); with billing off every user has every feature and this is unused.
ALTER TABLE users ADD COLUMN tier TEXT NOT NULL DEFAULT 'free'
    CHECK (tier IN ('free', 'basic', 'pro', 'premium'));
