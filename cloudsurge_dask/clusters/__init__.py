"""Where drains run: the one place that knows local, scheduler, Kubernetes and Slurm, their
objects and failures, the dashboard, and worker-process set-up."""
