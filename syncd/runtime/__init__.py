"""The long-running service: the scheduler, the daemon and the demo."""
