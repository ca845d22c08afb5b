"""Escalation by mail to named contacts, on-call rotation, and after-hours critical triage."""
