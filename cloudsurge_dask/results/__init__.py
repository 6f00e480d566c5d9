"""Reading a job back: cat, ls, jobs, status, export, verify (with --deep, --rescreen,
--repair)."""
