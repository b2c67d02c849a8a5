"""The file backend: a token store, locks, a rate ledger and a change watcher in one directory."""
