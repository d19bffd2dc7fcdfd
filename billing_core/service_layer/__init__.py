"""Use cases over the unit of work: plan changes, payments, jobs, demo data."""
