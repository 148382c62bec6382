"""Node setup over SSH: containerd trusts Harbor (containerd.py); scripts/ holds the node script."""
