"""The Redis backend of the storage interface (``backend.RedisStorage``).

It needs the ``webull-nb[redis]`` extra: redis-py and cryptography.
"""
