"""Renewals: a quote request opened for a policy 60 days before it ends, and how it is read."""
