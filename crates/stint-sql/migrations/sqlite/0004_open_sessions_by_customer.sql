-- A customer's open sessions (at every login, and the "my sessions" page),
-- without reading their whole history: a loyal customer's ended sessions
-- pile up in sessions_customer.
CREATE INDEX sessions_customer_open ON sessions (customer_id, id)
    WHERE ended_at IS NULL AND customer_id IS NOT NULL;
