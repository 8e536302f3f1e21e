"""Helpers for the article's raw experiments (live shells, demo netns, demo overlay)."""
