"""Cost estimates before grading and cost reports from the ledger.

``estimate`` renders the requests a run would send and prices them without
sending anything; ``reports`` sums the ledger by assignment, model, day and
request type, with what prompt caching and the Batch API saved.
"""
