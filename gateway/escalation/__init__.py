"""Escalation by mail to named contacts: tiers, their timing, recipients, and after-hours triage."""
