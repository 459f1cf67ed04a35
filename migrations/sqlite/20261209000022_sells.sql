-- Signal bots sell as well as buy, and by share quantity: each purchase row says its side,
-- and the quantity ordered when the order is by quantity (a DCA purchase orders a dollar
-- amount: NULL; its notional is then the bot's estimate at the decision's close).
ALTER TABLE purchases ADD COLUMN side TEXT NOT NULL DEFAULT 'buy' CHECK (side IN ('buy', 'sell'));
ALTER TABLE purchases ADD COLUMN order_qty TEXT;
