"""The proof that the system works: what it must show (spec.py, pure), the checker that looks
(checker/, stdlib only: runs in the Job as `python3 -m checker` and on a laptop) and the Job that runs it (job.py)."""
