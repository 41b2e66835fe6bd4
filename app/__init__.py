"""The SpyGlass Reflex app: pages plus the FastAPI routes mounted as its api_transformer."""
