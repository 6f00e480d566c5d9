"""A job's output: parts and their manifests, codecs, the folder's layout, job.json, records."""
