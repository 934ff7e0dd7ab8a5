"""Property tests: the generated enforcers and the reference evaluator agree."""
