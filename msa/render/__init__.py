"""The offline render (render.py): the mock engine that runs the program and records what it
registers (engine.py), the files that makes (output.py) and the folder they replace (folder.py)."""
