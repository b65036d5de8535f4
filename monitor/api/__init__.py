"""monitor's HTTP API (aiohttp): health, metrics, alerts, and the management routes."""
