-- Up Migration

-- The payment gateway mock is its own service now, with its own schema
-- (payment_gateway_mock). Its old ledger inside the card adapter's schema goes.
DROP TABLE IF EXISTS card_adapter.mock_gateway_charges;

-- Down Migration

-- Nothing to restore: the mock's ledger lives in the payment_gateway_mock schema.
