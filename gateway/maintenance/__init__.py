"""Maintenance windows: planned and emergency work, announced with the lead time its kind promises."""
