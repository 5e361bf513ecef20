-- Dyno sizes an operator grants a user (`paas users:grant EMAIL performance-m`): a JSON array of
-- size names; NULL means the default sizes (Eco, Basic, Standard-1X, Standard-2X). Scaling and
-- one-off dynos of an app may use the sizes its owner is granted.

ALTER TABLE users ADD COLUMN dyno_sizes TEXT;
