"""Grading: request building, the API client with retries, validation, the run."""
