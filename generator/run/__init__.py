"""Running an enforcer package: loading, golden cases, one decision, the reference."""
