"""Exports for other tools: REFI-QDA codebooks (.qdc) and projects (.qdpx), and tables."""
