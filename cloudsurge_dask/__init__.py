"""cloudsurge-dask: every structure of every formula, on a Dask cluster, verifiably."""

__version__ = "0.1.0"
