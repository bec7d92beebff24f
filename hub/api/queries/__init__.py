"""Read-only queries behind the API's list and detail endpoints (no writes here)."""
