"""Writes of the integrations app, one module per concern: `ingest` stores a delivery, `wake`
starts a drain after it, `drain` claims stored events, `apply` books what their changes
deserve, `maintenance` rotates secrets, prunes old payloads."""
