"""The API's routers: health (/livez, /readyz, /metrics), v1 (model), admin."""
