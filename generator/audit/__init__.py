"""The auditor's commands: `mu replay`, `mu log`, `mu verify`."""
