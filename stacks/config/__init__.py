"""The stack config: pydantic models only (camelCase keys, unknown keys refused)."""
