"""An email-driven help-desk gateway: mail in, tickets, SLA clocks, escalation, in-thread work."""

__version__ = "0.1.0"
