"""Acme Mutual: an example insurer partner of the Insurance Accelerator.

``acme_insurer.adapter`` translates between the accelerator and Acme's API; ``acme_insurer.server``
is a tiny Acme API to run it against. See README.md.
"""
