"""The operator's commands: `mu deploy`, `mu diagnose`, `mu upgrade-check`, and what they need."""
