"""Operators' work done in the admin console: the record of their actions and the insurer
switches they set."""
