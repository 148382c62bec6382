"""The proof that the system works: what it must show (spec.py, pure), the checker that looks
(checker.py, stdlib only: runs in the Job and on a laptop) and the Job that runs it (job.py)."""
