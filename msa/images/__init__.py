"""Service images built for the nodes and pushed to Harbor (harbor.py); scripts/ holds the relay scripts."""
