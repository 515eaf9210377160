"""The office sync server: receives device journals, recomputes valuations, issues
documents and reconciles registers."""
