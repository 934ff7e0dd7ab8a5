"""`mu build`: the gates, the statements they attest to, and the all-or-nothing write."""
