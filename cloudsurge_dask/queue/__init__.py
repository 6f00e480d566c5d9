"""The work queue: Redis Streams with leases, the Redis client and private server, a job's
local state."""
