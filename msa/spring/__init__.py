"""Spring Cloud services: every Spring setting of a pod (settings.py, pure) and the SpringService
component (service.py)."""
