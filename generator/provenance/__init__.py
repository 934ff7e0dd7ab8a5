"""Evidence: keys, DSSE, trust, statements, snapshots, approvals and their checks."""
