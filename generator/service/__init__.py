"""The decision service (`mu serve`, SPEC §10): the deployed A over HTTP.

`config` reads the one TOML file; `release` loads and verifies what TARGET
points at and follows deploys; `app` is the Starlette application (decide,
health, metrics); `server` puts the decision log, the outbox and its workers
and uvicorn together and stops them in order.
"""
