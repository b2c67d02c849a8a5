"""One token per account, shared by every process: the storage interface, backends, poller."""
