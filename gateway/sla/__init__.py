"""SLA clocks per ticket (start, stop, pause, resume) and the stale-case timers."""
