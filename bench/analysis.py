"""The written part of docs/benchmarks.md: profiles of the goals missed and what was done about them."""
ANALYSIS = """
## Where a goal is missed: profiles and floors

(to be written)
"""
