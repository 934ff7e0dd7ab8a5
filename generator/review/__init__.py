"""The reviewer's commands: `mu diff` (and its sides), `mu rollback`."""
