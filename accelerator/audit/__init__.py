"""The audit trail: decision receipts, the marks of decisions a later fact would change, and
the evidence that neither they nor the registry's events were altered.

- ``chain``: the canonical content of a row and the per-seller hash chain it joins;
- ``heads``: where each seller's chains end (locked while a transaction extends them);
- ``guard``: the triggers that make the audited tables append-only in the database itself;
- ``models``: the receipts, their marks and the chain heads;
- ``verify``: walks the chains and names the first broken link of each (``accelerator audit
  verify``, ``GET /v1/admin/audit/verify``; ``controller`` serves it).
"""
