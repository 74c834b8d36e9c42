"""The audit trail: decision receipts, the marks of decisions a later fact would change, and
the evidence that neither they nor the registry's events were altered (docs/audit.md).

- ``receipts``: every decision kept before it is answered (group-committed), and read back;
- ``decisions``: fetch, list and replay receipts (``/v1/coverage/decisions``);
- ``affected``: the sweep that marks receipts an event recorded later would change;
- ``chain``: the canonical content of a row and the per-seller hash chain it joins;
- ``heads``: where each seller's chains end (locked while a transaction extends them);
- ``anchors``: where a chain begins once retention removed its first rows;
- ``guard``: the triggers that make the audited tables append-only in the database itself;
- ``models``: the receipts, their marks, the queued events, heads, anchors and purge permits;
- ``verify``: walks the chains and names the first broken link of each (``accelerator audit
  verify``, ``GET /v1/admin/audit/verify``; ``controller`` serves it);
- ``retention``: captures and webhook bodies after 90 days, the audit trail's oldest prefixes
  after about 7 years (docs/retention.md);
- ``export``: a seller's trail as JSON lines (``export_controller`` serves it).
"""
