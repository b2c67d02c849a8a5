"""Talking to the API: wire formats, rate limits, error mapping, the client, an auth hook."""
