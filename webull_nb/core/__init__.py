"""Pure code, no I/O: errors, secrets, status, messages, time text, endpoints, signing."""
