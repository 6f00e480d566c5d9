"""A run: the client that starts, drives and ends it (or stops and resumes it), the worker's
drain loop, and the preview (`plan`)."""
