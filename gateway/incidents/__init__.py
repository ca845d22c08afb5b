"""Incidents: one outage, many tickets; one update reaching each affected customer once; the reports owed."""
