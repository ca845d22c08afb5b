"""The clock that drives the promises: the scheduler and the wake-up that runs it."""
