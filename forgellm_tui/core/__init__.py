"""The engine: everything here works without Textual (a test enforces it)."""
