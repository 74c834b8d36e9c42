"""The insurers this service talks to, as quoting, binding and webhooks share them.

``partners`` (each configured insurer's adapter, HTTP client and breaker), ``caller`` (one call
under a deadline, retrying only transient failures), ``breaker``, ``capture`` (redacted
exchanges for admins) and ``directory`` (what ``GET /v1/providers`` shows). Adapters only
translate (``providers``); everything about calling them lives here.
"""
